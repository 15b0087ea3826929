#!/usr/bin/env bash
# Page processing: `quire process` against OCRmyPDF (`--deskew --jobs 2 --output-type pdf`) on
# the same synthetic 20-page, 300-dpi scanned article (image-only JPEG PDF with small known
# skews, blur and noise, made by quire_testkit::synth). For each tool: pages per minute, peak
# RSS (GNU time), output bytes, and the CER of the text layer (pdftotext, page by page) against
# the generator's truth. For Quire also the split of page work between tesseract and the rest
# (from --report), and peak RSS at 20 vs 200 pages. Writes bench-out/process.txt and prints it.
#
# Needs: ghostscript (OCRmyPDF), time (GNU time), poppler-utils (pdftotext), python3-venv,
# tesseract-ocr + eng. OCRmyPDF comes from PyPI into .tools/ocrmypdf-venv.
# Env: PAGES (20), BIG_PAGES (200; 0 skips the RSS-flatness run), JOBS (2), SKIP_OCRMYPDF=1.
set -euo pipefail

cd "$(dirname "$0")/../.."
PAGES="${PAGES:-20}"
BIG_PAGES="${BIG_PAGES:-200}"
JOBS="${JOBS:-2}"
DPI=300
OUT=bench-out/process
VENV=.tools/ocrmypdf-venv
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null || { echo "process bench: $1 is missing (install $2)" >&2; exit 1; }; }
need pdftotext poppler-utils
need tesseract tesseract-ocr
[[ -x /usr/bin/time ]] || { echo "process bench: /usr/bin/time is missing (install time)" >&2; exit 1; }

cargo build --release --quiet -p quire-pipeline --example bench_article
GEN=target/release/examples/bench_article
QUIRE=target/release/quire
if ! cargo build --release --quiet --bin quire; then
    echo "process bench: the quire binary does not build; its side is skipped" >&2
    QUIRE=/nonexistent/quire
fi

# Inputs are cached: the generator is deterministic, so an existing file is the same article.
article() { # pages
    local pdf="$OUT/article-$1.pdf"
    if [[ ! -s "$pdf" || ! -d "$OUT/truth-$1" ]]; then
        echo "generating a $1-page ${DPI}-dpi article..." >&2
        rm -rf "$OUT/truth-$1"
        "$GEN" generate "$pdf.part" "$OUT/truth-$1" "$1" "$DPI"
        mv "$pdf.part" "$pdf"
    fi
    echo "$pdf"
}

# Runs a command under GNU time; prints "wall_seconds max_rss_kib".
measure() { # log, command...
    local log="$1"; shift
    /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1 || { cat "$log" "$log.time" >&2; return 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
                /Maximum resident set size/ { rss = $2 }
                END { printf "%.2f %d\n", wall, rss }' "$log.time"
}

# CER of a PDF's text layer against the truth of an article of N pages.
text_cer() { # pdf, pages
    local dir="$OUT/text-$(basename "$1" .pdf)"
    rm -rf "$dir"; mkdir -p "$dir"
    for n in $(seq "$2"); do
        pdftotext -q -f "$n" -l "$n" "$1" "$dir/$(printf 'page-%04d.txt' "$n")"
    done
    "$GEN" cer "$OUT/truth-$2" "$dir" | head -1
}

install_ocrmypdf() {
    command -v gs >/dev/null || {
        echo "process bench: installing ghostscript (OCRmyPDF needs it)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q ghostscript >/dev/null
    }
    if [[ ! -x "$VENV/bin/ocrmypdf" ]]; then
        echo "process bench: installing OCRmyPDF from PyPI into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q ocrmypdf
    fi
}

small=$(article "$PAGES")
lines=()
lines+=("process: synthetic ${PAGES}-page ${DPI}-dpi article (grey JPEG scan, skews up to 1.6 deg, blur+noise), $JOBS jobs")
lines+=("         ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, tesseract $(tesseract --version 2>&1 | head -1 | awk '{print $2}'))")

ocr_ppm=""; ocr_cer=""
if [[ "${SKIP_OCRMYPDF:-0}" != 1 ]]; then
    install_ocrmypdf
    out="$OUT/ocrmypdf-$PAGES.pdf"
    read -r wall rss < <(measure "$OUT/ocrmypdf.log" "$VENV/bin/ocrmypdf" --deskew --jobs "$JOBS" --output-type pdf "$small" "$out")
    ocr_ppm=$(awk -v p="$PAGES" -v w="$wall" 'BEGIN { printf "%.1f", p * 60 / w }')
    ocr_cer=$(text_cer "$out" "$PAGES")
    lines+=("$(printf 'ocrmypdf %s  %6.1f pages/min  wall %6.1f s  peak RSS %5d MiB  output %9d bytes  CER %.4f' \
        "$("$VENV/bin/ocrmypdf" --version)" "$ocr_ppm" "$wall" $((rss / 1024)) "$(stat -c %s "$out")" "$ocr_cer")")
    lines+=("         (peak RSS is GNU time's: the largest single process, i.e. one tesseract or the python parent)")
fi

if ! "$QUIRE" process --help >/dev/null 2>&1; then
    lines+=("quire    SKIPPED: this build has no 'quire process' command yet")
else
    out="$OUT/quire-$PAGES.pdf"
    report="$OUT/quire-$PAGES.json"
    read -r wall rss < <(measure "$OUT/quire.log" "$QUIRE" process "$small" -o "$out" --output-type pdf --report "$report" --jobs "$JOBS")
    q_ppm=$(awk -v p="$PAGES" -v w="$wall" 'BEGIN { printf "%.1f", p * 60 / w }')
    q_cer=$(text_cer "$out" "$PAGES")
    lines+=("$(printf 'quire             %6.1f pages/min  wall %6.1f s  peak RSS %5d MiB  output %9d bytes  CER %.4f' \
        "$q_ppm" "$wall" $((rss / 1024)) "$(stat -c %s "$out")" "$q_cer")")
    split=$(python3 - "$report" "$wall" "$JOBS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); jobs = int(sys.argv[3])
t = float(r.get("tesseract_seconds", 0)); o = float(r.get("other_seconds", 0))
busy = t + o
share = t / busy if busy else 0
# Wall time not spent in tesseract: what the run took beyond tesseract's share spread over jobs.
outside = max(0.0, wall - t / jobs)
print(f"quire time: tesseract {t:.1f} s, other page work {o:.1f} s (thread-seconds): "
      f"tesseract {share:.1%}, non-OCR {1 - share:.1%} of page work; "
      f"wall {wall:.1f} s of which {outside:.1f} s ({outside / wall:.1%}) is not covered by tesseract")
PY
)
    lines+=("$split")
    if [[ -n "$ocr_ppm" ]]; then
        lines+=("$(awk -v q="$q_ppm" -v o="$ocr_ppm" -v qc="$q_cer" -v oc="$ocr_cer" \
            'BEGIN { printf "ratio    quire/ocrmypdf pages per minute %.2fx (target >= 2x); CER quire %.4f vs ocrmypdf %.4f (%s)", q / o, qc, oc, (qc <= oc ? "equal or lower" : "HIGHER") }')")
    fi
    if [[ "$BIG_PAGES" -gt 0 ]]; then
        big=$(article "$BIG_PAGES")
        read -r bwall brss < <(measure "$OUT/quire-big.log" "$QUIRE" process "$big" -o "$OUT/quire-$BIG_PAGES.pdf" --jobs "$JOBS")
        lines+=("$(printf 'memory   quire peak RSS %d MiB at %d pages vs %d MiB at %d pages (%.2fx; flat is ~1x); %d pages took %.1f s' \
            $((rss / 1024)) "$PAGES" $((brss / 1024)) "$BIG_PAGES" "$(awk -v a="$brss" -v b="$rss" 'BEGIN { print a / b }')" "$BIG_PAGES" "$bwall")")
    fi
fi

printf '%s\n' "${lines[@]}" | tee bench-out/process.txt
