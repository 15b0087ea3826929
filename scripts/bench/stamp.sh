#!/usr/bin/env bash
# Stamping benchmark: a generated 300-page scan-sized PDF (48 MB of distinct page images, each
# with a text layer) stamped with cover, margin stamp, diagonal watermark and trace ids.
# Target: under 1 s. Measures the library alone (best of 3, fonts warm), then `quire stamp`
# end to end (process start, reading and writing the files), and as the anchor qpdf overlaying
# one page on every page of the same file. Writes bench-out/stamp.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bench-out
out=bench-out/stamp.txt

cargo build --release --quiet -p quire-watermark --example stamp_bench
cargo build --release --quiet --bin quire
library=$(./target/release/examples/stamp_bench 300)

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'; }

cli=$(seconds ./target/release/quire stamp bench-out/stamp-input.pdf -o bench-out/stamp-cli.pdf \
  --request REQ-BENCH --recipient "Zoë Łukasiewicz" --library "Test Library" --watermark)
qpdf --check bench-out/stamp-cli.pdf >/dev/null
anchor=$(seconds qpdf bench-out/stamp-input.pdf --overlay bench-out/stamp-output.pdf --repeat=1 -- bench-out/stamp-qpdf-overlay.pdf)

{
  echo "stamp benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
  echo "library:      $library"
  echo "quire stamp:  ${cli} s end to end (300 pages, 48 MB, incl. process start and file I/O)"
  echo "anchor qpdf --overlay of one page on all 300: ${anchor} s"
} | tee "$out"
rm -f bench-out/stamp-cli.pdf bench-out/stamp-qpdf-overlay.pdf
