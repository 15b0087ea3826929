#!/usr/bin/env bash
# Delivered file size (issue 19): `quire process` against OCRmyPDF (`--deskew --output-type pdf`,
# its default optimisation) in the same run, on the synthetic 20-page grey article of
# process.sh and on each real scan in ../shared/corpus. Per input and tool: output bytes, the
# image encodings used (pdfimages), the CER of the text layer where a truth exists, and the
# visual loss at 150-dpi viewing (scripts/bench/visual.py: SSIM and PSNR of the page rendered
# by pdftoppm at 150 dpi against the same page encoded losslessly). Writes bench-out/size.txt.
#
# References for the visual measure: OCRmyPDF's own deskewed page before it encodes it
# (NNNNNN_pp_deskew.png, kept with -k, wrapped losslessly by img2pdf); Quire's page from a
# second run with `[processing] jpeg_quality = 100` (Quire has no lossless switch for grey and
# colour pages; quality 100 is near-lossless: every quantiser step is 1).
#
# Needs what process.sh needs, plus numpy (installed into the OCRmyPDF venv).
# Env: JOBS (2), CORPUS (../shared/corpus), SKIP_OCRMYPDF=1.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
JOBS="${JOBS:-2}"
CORPUS="${CORPUS:-../shared/corpus}"
PAGES=20
DPI=300
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT=bench-out/size
ARTICLES=bench-out/process
VENV=.tools/ocrmypdf-venv
mkdir -p "$OUT" "$ARTICLES"

need() { command -v "$1" >/dev/null || { echo "size bench: $1 is missing (install $2)" >&2; exit 1; }; }
need pdftotext poppler-utils
need pdftoppm poppler-utils
need pdfimages poppler-utils
need tesseract tesseract-ocr

cargo build --release --quiet --workspace --example bench_article --bin quire
GEN=$TARGET/release/examples/bench_article
QUIRE=$TARGET/release/quire

if [[ ! -x "$VENV/bin/ocrmypdf" ]] || ! "$VENV/bin/python" -c 'import numpy' 2>/dev/null; then
    echo "size bench: installing OCRmyPDF and numpy from PyPI into $VENV" >&2
    command -v gs >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q ghostscript >/dev/null
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q ocrmypdf numpy
fi
PY=$VENV/bin/python

# The article, shared with process.sh (same generator, same cache).
article="$ARTICLES/article-$PAGES.pdf"
if [[ ! -s "$article" || ! -d "$ARTICLES/truth-$PAGES" ]]; then
    echo "generating a $PAGES-page ${DPI}-dpi article..." >&2
    rm -rf "$ARTICLES/truth-$PAGES"
    "$GEN" generate "$article.part" "$ARTICLES/truth-$PAGES" "$PAGES" "$DPI"
    mv "$article.part" "$article"
fi
# linn.txt is the corpus's transcription of linn.png; the scorer reads truth as page files.
mkdir -p "$OUT/truth-linn"
[[ -f "$CORPUS/linn.txt" ]] && cp "$CORPUS/linn.txt" "$OUT/truth-linn/page-0001.txt"

# CER of a PDF's text layer against a truth directory (page-NNNN.txt), or "n/a".
text_cer() { # pdf, truth_dir
    [[ -d "$2" && -n "$(ls "$2" 2>/dev/null)" ]] || { echo n/a; return; }
    local dir="$OUT/text-$(basename "$1" .pdf)"
    rm -rf "$dir"; mkdir -p "$dir"
    local n
    for n in $(seq "$(ls "$2" | wc -l)"); do
        pdftotext -q -f "$n" -l "$n" "$1" "$dir/$(printf 'page-%04d.txt' "$n")"
    done
    "$GEN" cer "$2" "$dir" | sed -n 1p
}

# The image encodings of a PDF, counted: "jpeg×20", "ccitt×1 image×2".
encodings() {
    pdfimages -list "$1" | awk 'NR > 2 && $3 != "smask" { n[$9]++ } END { for (e in n) printf "%s×%d ", e, n[e] }'
}

reference_config="$OUT/reference.toml"
printf '[processing]\njpeg_quality = 100\n' >"$reference_config"

inputs=("$article")
for f in baiona_color.jpg linn.png typewriter.png ccitt.pdf epson.pdf blank.pdf multipage.pdf; do
    [[ -f "$CORPUS/$f" ]] && inputs+=("$CORPUS/$f")
done

lines=()
lines+=("size: quire process vs ocrmypdf --deskew --output-type pdf, same run, $JOBS jobs")
lines+=("      ($(date -u +%Y-%m-%dT%H:%M:%SZ), ocrmypdf $("$VENV/bin/ocrmypdf" --version), $(nproc) cores)")
lines+=("$(printf '%-18s %-9s %10s %7s %-22s %8s %s' input tool bytes ratio encodings CER 'visual@150dpi: ssim_min ssim_mean psnr_min psnr_mean pages')")
for in in "${inputs[@]}"; do
    name=$(basename "${in%.*}")
    truth=""
    [[ "$in" == "$article" ]] && truth="$ARTICLES/truth-$PAGES"
    [[ "$name" == linn ]] && truth="$OUT/truth-linn"
    image_dpi=()
    case "$in" in *.png | *.jpg) image_dpi=(--image-dpi 300) ;; esac # Quire's fallback_dpi

    o_bytes=""
    if [[ "${SKIP_OCRMYPDF:-0}" != 1 ]]; then
        o_out="$OUT/ocrmypdf-$name.pdf"
        tmp="$OUT/tmp-ocrmypdf-$name"
        rm -rf "$tmp"; mkdir -p "$tmp"
        if TMPDIR="$ROOT/$tmp" "$VENV/bin/ocrmypdf" -k --deskew --jobs "$JOBS" --output-type pdf "${image_dpi[@]}" \
            "$in" "$o_out" >"$OUT/ocrmypdf-$name.log" 2>&1; then
            o_bytes=$(stat -c %s "$o_out")
            o_ref="$OUT/ocrmypdf-$name.reference.pdf"
            mapfile -t pngs < <(find "$tmp" -name '*_pp_deskew.png' | sort)
            visual="(no deskewed page kept)"
            if [[ ${#pngs[@]} -gt 0 ]]; then
                "$VENV/bin/img2pdf" "${pngs[@]}" -o "$o_ref"
                visual=$("$PY" scripts/bench/visual.py "$o_out" "$o_ref")
            fi
            lines+=("$(printf '%-18s %-9s %10d %7s %-22s %8s %s' "$name" ocrmypdf "$o_bytes" "" \
                "$(encodings "$o_out")" "$(text_cer "$o_out" "$truth")" "$visual")")
        else
            lines+=("$(printf '%-18s %-9s refused: %s' "$name" ocrmypdf "$(tail -1 "$OUT/ocrmypdf-$name.log")")")
        fi
        rm -rf "$tmp"
    fi

    q_out="$OUT/quire-$name.pdf"
    q_ref="$OUT/quire-$name.reference.pdf"
    if "$QUIRE" process "$in" -o "$q_out" --output-type pdf --jobs "$JOBS" >"$OUT/quire-$name.log" 2>&1; then
        "$QUIRE" process --config "$reference_config" "$in" -o "$q_ref" --output-type pdf --jobs "$JOBS" >"$OUT/quire-$name.reference.log" 2>&1
        q_bytes=$(stat -c %s "$q_out")
        ratio=""
        [[ -n "$o_bytes" ]] && ratio=$(awk -v q="$q_bytes" -v o="$o_bytes" 'BEGIN { printf "%.2fx", q / o }')
        lines+=("$(printf '%-18s %-9s %10d %7s %-22s %8s %s' "$name" quire "$q_bytes" "$ratio" \
            "$(encodings "$q_out")" "$(text_cer "$q_out" "$truth")" "$("$PY" scripts/bench/visual.py "$q_out" "$q_ref")")")
    else
        lines+=("$(printf '%-18s %-9s refused: %s' "$name" quire "$(tail -1 "$OUT/quire-$name.log")")")
    fi
done
lines+=("ratio = quire bytes / ocrmypdf bytes (target <= 1.00x). CER only where a truth exists (the article's generator; linn.txt, itself an OCR).")

printf '%s\n' "${lines[@]}" | tee bench-out/size.txt
