#!/usr/bin/env bash
# Memory per page (issue 14): peak RSS of `quire process --jobs 2 PAGE -o OUT.pdf` on one large
# synthetic A4 page at 25, 100 and 250 megapixels (506, 1011, 1599 dpi), as 8-bit grey PNG, grey
# JPEG, bilevel CCITT G4 TIFF, and the page on cream paper as 8-bit RGB PNG, 4:2:0 JPEG and
# uncompressed strip TIFF (made by pipeline/examples/bench_pages.rs with
# quire_testkit::synth; 0.8 deg skew, so every page is straightened). For each: peak RSS and
# wall time (GNU time), and the CER of the text layer against the generator's truth.
#
# "Before" figures come from another quire binary run on the same pages: BEFORE=path/to/quire,
# or BEFORE_REV=<git revision> to build that revision's release binary into
# bench-out/memory/before/ (registry crates are shared with target/, so only Quire's own crates
# build again). Without either, only the current binary is measured.
#
# Needs: time (GNU time), poppler-utils (pdftotext), tesseract-ocr + eng.
# Env: SIZES ("25 100 250"), KINDS ("grey.png grey.jpg g4.tif rgb.png rgb.jpg rgb.tif"), JOBS (2), BEFORE,
# BEFORE_REV, PROFILE (release; dev measures the binaries `cargo build` and `cargo test` make, in
# target/debug: what BENCHMARKS.md's test-profile figures are, and far quicker to build).
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZES="${SIZES:-25 100 250}"
KINDS="${KINDS:-grey.png grey.jpg g4.tif rgb.png rgb.jpg rgb.tif}"
JOBS="${JOBS:-2}"
PROFILE="${PROFILE:-release}"
OUT=bench-out/memory
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null || { echo "memory bench: $1 is missing (install $2)" >&2; exit 1; }; }
need pdftotext poppler-utils
need tesseract tesseract-ocr
[[ -x /usr/bin/time ]] || { echo "memory bench: /usr/bin/time is missing (install time)" >&2; exit 1; }

case "$PROFILE" in
    release)
        cargo build --release --quiet -p quire-pipeline --example bench_pages --example bench_article
        cargo build --release --quiet --bin quire
        BIN_DIR="$TARGET/release" ;;
    dev | test)
        # With --workspace, so that dependencies build with the features `cargo test` uses.
        cargo build --quiet --workspace --bin quire --example bench_pages --example bench_article
        BIN_DIR="$TARGET/debug" ;;
    *) echo "memory bench: PROFILE is release or dev, not $PROFILE" >&2; exit 1 ;;
esac
GEN="$BIN_DIR/examples/bench_pages"
CER="$BIN_DIR/examples/bench_article"
QUIRE="$OUT/quire-now"
cp "$BIN_DIR/quire" "$QUIRE"

BEFORE="${BEFORE:-}"
if [[ -z "$BEFORE" && -n "${BEFORE_REV:-}" ]]; then
    src="$OUT/before/src-$BEFORE_REV"
    if [[ ! -x "$OUT/before/quire-$BEFORE_REV" ]]; then
        rm -rf "$src"; mkdir -p "$src"
        git archive "$BEFORE_REV" | tar -x -C "$src"
        (cd "$src" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet --bin quire)
        cp "$TARGET/release/quire" "$OUT/before/quire-$BEFORE_REV"
    fi
    BEFORE="$OUT/before/quire-$BEFORE_REV"
fi

# Runs a command under GNU time; prints "wall_seconds max_rss_kib exit_status".
measure() { # log, command...
    local log="$1"; shift
    local status=0
    /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1 || status=$?
    awk -F': ' -v st="$status" '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
                /Maximum resident set size/ { rss = $2 }
                END { printf "%.2f %d %d\n", wall, rss, st }' "$log.time"
}

cer_of() { # pdf, truth dir
    local dir="$1.text"
    rm -rf "$dir"; mkdir -p "$dir"
    pdftotext -q "$1" "$dir/page-0001.txt" && "$CER" cer "$2" "$dir" | awk 'NR == 1 { print $NF }'
}

row() { # label, binary, page, truth dir
    local label="$1" bin="$2" page="$3" truth="$4"
    local pdf="$OUT/$(basename "$page").$label.pdf"
    read -r wall rss status < <(measure "$OUT/$(basename "$page").$label.log" "$bin" process --jobs "$JOBS" "$page" -o "$pdf")
    if [[ "$status" != 0 ]]; then
        printf '%-7s %5d MiB  %7.1f s  exit %s: %s\n' "$label" $((rss / 1024)) "$wall" "$status" \
            "$(tail -1 "$OUT/$(basename "$page").$label.log")"
        return
    fi
    printf '%-7s %5d MiB  %7.1f s  CER %s\n' "$label" $((rss / 1024)) "$wall" "$(cer_of "$pdf" "$truth")"
}

lines=()
lines+=("memory: peak RSS of 'quire process --jobs $JOBS PAGE -o OUT.pdf', one synthetic A4 page ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $PROFILE build)")
for mp in $SIZES; do
    "$GEN" "$OUT/pages" "$mp"
    truth="$OUT/pages/truth-${mp}mp"
    for kind in $KINDS; do
        page="$OUT/pages/${kind%%.*}-${mp}mp.${kind#*.}"
        if [[ -n "$BEFORE" ]]; then
            lines+=("$(printf '%4s MP %-9s ' "$mp" "$kind")$(row before "$BEFORE" "$page" "$truth")")
        fi
        lines+=("$(printf '%4s MP %-9s ' "$mp" "$kind")$(row now "$QUIRE" "$page" "$truth")")
        printf '%s\n' "${lines[-1]}" >&2
    done
done

printf '%s\n' "${lines[@]}" | tee bench-out/memory.txt
