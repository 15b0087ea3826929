#!/usr/bin/env bash
# Pages per second captured from the SANE `test` backend's document feeder (10 pages a batch) at
# 300 dpi: `quire scan` (one multi-page TIFF in the inbox) against `scanimage --batch` (one TIFF
# per page) on the same device in the same run. Best of ROUNDS batches each, gray and colour.
# Writes bench-out/scan.txt and prints it.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"
DPI=300
QUIRE="${QUIRE_BIN:-target/release/quire}"
if [[ -z "${QUIRE_BIN:-}" ]]; then
    cargo build --release --quiet --bin quire
fi
command -v scanimage >/dev/null || { echo "scan bench: scanimage (sane-utils) is not installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sane" "$work/home"
echo test >"$work/sane/dll.conf"
export SANE_CONFIG_DIR="$work/sane"
printf 'data_dir = "var"\n' >"$work/home/quire.toml"
ADF="Automatic Document Feeder"

now() { date +%s.%N; }
rate() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", 10 / (b - a) }'; }

# Prints "wall capture" pages/second of one batch: wall includes process start-up (the quire
# binary links tesseract & co.), config and SANE set-up; capture is quire's own measure from
# the first sane_start to the TIFF synced in the inbox. Fails loudly unless 10 pages landed.
run_quire() { # mode
    local stem="bench-$1-$RANDOM$RANDOM" t0 t1 capture
    t0=$(now)
    "$QUIRE" --config "$work/home/quire.toml" scan -d test:0 --source adf --dpi "$DPI" --mode "$1" \
        --request "$stem" >/dev/null 2>"$work/quire.err" || { cat "$work/quire.err" >&2; exit 1; }
    t1=$(now)
    grep -q '^page 10:' "$work/quire.err" || { echo "quire scan did not capture 10 pages" >&2; exit 1; }
    capture=$(sed -n 's/^10 page(s) in .* (\([0-9.]*\) pages\/s).*/\1/p' "$work/quire.err")
    rm -f "$work/home/var/inbox/$stem.tif"
    echo "$(rate "$t0" "$t1") $capture"
}

run_scanimage() { # SANE mode
    local dir="$work/scanimage" t0 t1 n
    rm -rf "$dir" && mkdir -p "$dir"
    t0=$(now)
    scanimage -d test:0 --source "$ADF" --mode "$1" --resolution "$DPI" --format=tiff \
        --batch="$dir/p%d.tif" 2>/dev/null || true # ends with "out of documents"
    t1=$(now)
    n=$(find "$dir" -name 'p*.tif' | wc -l)
    [[ "$n" == 10 ]] || { echo "scanimage captured $n pages, not 10" >&2; exit 1; }
    rate "$t0" "$t1"
}

best() { sort -g | tail -1; }

declare -A result
for mode in gray color; do
    sane_mode=$([[ $mode == gray ]] && echo Gray || echo Color)
    runs=$(for _ in $(seq "$ROUNDS"); do run_quire "$mode"; done)
    q_wall=$(echo "$runs" | cut -d' ' -f1 | best)
    q_capture=$(echo "$runs" | cut -d' ' -f2 | best)
    s=$(for _ in $(seq "$ROUNDS"); do run_scanimage "$sane_mode"; done | best)
    result[$mode]=$(printf '%-5s  scanimage --batch %6.1f   quire scan wall %6.1f (%.2fx)   quire capture only %6.1f (%.2fx)' \
        "$mode" "$s" "$q_wall" "$(awk -v q="$q_wall" -v s="$s" 'BEGIN { print q / s }')" \
        "$q_capture" "$(awk -v q="$q_capture" -v s="$s" 'BEGIN { print q / s }')")
done

mkdir -p bench-out
{
    echo "scan: pages/s, SANE test backend, ADF batch of 10 pages, ${DPI} dpi, 8-bit, best of $ROUNDS batches"
    echo "      ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(scanimage --version | head -1))"
    echo "${result[gray]}"
    echo "${result[color]}"
} | tee bench-out/scan.txt
