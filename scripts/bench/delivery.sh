#!/usr/bin/env bash
# Delivery benchmark (issue 6): what the daemon serves to borrowers, measured with wrk over
# loopback against nginx (the Debian package) serving the very same bytes in the same run.
#   1. Download throughput of a ~20 MB stamped PDF, GET /d/{token}/file, DL_CONN concurrent
#      connections (default 16), Quire then nginx, ROUNDS times (default 2), alternating.
#      Target: Quire at least 0.8x nginx.
#   2. Borrower-page latency, GET /d/{token}, PAGE_CONN concurrent connections (default 200):
#      p50/p90/p99 from wrk --latency. nginx serving a static copy of that page is printed as a
#      floor for reference (it does no lookup, no template and no SQLite).
# Everything runs in a temporary Quire home and nginx prefix that are removed at the end
# (KEEP=1 keeps them). Writes bench-out/delivery.txt and prints it; wrk logs stay in
# bench-out/delivery/. Exits non-zero only if something broke, never for a missed target.
#
# Needs: nginx, wrk, curl, time (installed with apt-get if missing), python3, qpdf.
# Env: DURATION (15 s per measurement), WARMUP (3 s), THREADS (wrk threads, 2), DL_CONN (16),
#      PAGE_CONN (200), ROUNDS (2), SIZE_MB (20), QUIRE_BIN (a prebuilt quire: skips cargo build).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
THREADS="${THREADS:-2}"
DL_CONN="${DL_CONN:-16}"
PAGE_CONN="${PAGE_CONN:-200}"
ROUNDS="${ROUNDS:-2}"
SIZE_MB="${SIZE_MB:-20}"
OUT=bench-out/delivery
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.log.time

fail() { echo "delivery bench: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    echo "delivery bench: installing ${missing[*]} with apt-get" >&2
    # On a host with systemd, installing nginx also starts its packaged service on port 80
    # (in a container a policy-rc.d usually prevents that). This script neither uses nor
    # touches that service: it runs its own nginx on its own port and prefix.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]} failed"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v python3 >/dev/null || fail "python3 is missing"
command -v qpdf >/dev/null || fail "qpdf is missing (install qpdf)"

if [[ -n "${QUIRE_BIN:-}" ]]; then
    QUIRE=$QUIRE_BIN
else
    cargo build --release --quiet --bin quire || fail "the quire binary does not build"
    QUIRE=$ROOT/target/release/quire
fi

# --- scratch space and clean-up -----------------------------------------------------------
WORK=$(mktemp -d /tmp/quire-delivery-bench.XXXXXX)
chmod 755 "$WORK" # nginx workers may run as another user and must read www/
DAEMON_PID=""
NGINX_PID=""
cleanup() {
    [[ -n "$DAEMON_PID" ]] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
    [[ -n "$NGINX_PID" ]] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    if [[ "${KEEP:-0}" == 1 ]]; then echo "delivery bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url, what
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$2 did not answer at $1"
}

# --- the input PDF ------------------------------------------------------------------------
# A deterministic PDF of 8-bit grey pages full of noise (Flate at level 1), so its size is
# what SIZE_MB says and neither stamping nor transport can compress it away. Cached.
INPUT="$OUT/input-${SIZE_MB}mb.pdf"
if [[ ! -s "$INPUT" ]]; then
    python3 - "$INPUT.part" "$SIZE_MB" <<'PY'
import random, sys, zlib
path, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(6)
side = 1448  # ~2 MiB of grey pixels a page
pages = max(1, round(mb * 1024 * 1024 / (side * side)))
objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
kids = []
for i in range(pages):
    page, content, image = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
    kids.append(f"{page} 0 R")
    objects[page] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {content} 0 R "
                     f"/Resources << /XObject << /Im0 {image} 0 R >> >> >>").encode()
    ops = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    objects[content] = b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream"
    data = zlib.compress(rng.randbytes(side * side), 1)
    objects[image] = (f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray "
                      f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(data)} >>\nstream\n").encode() + data + b"\nendstream"
objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>".encode()
out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
offsets = {}
for n in sorted(objects):
    offsets[n] = len(out)
    out += b"%d 0 obj\n" % n + objects[n] + b"\nendobj\n"
xref = len(out)
size = max(objects) + 1
out += b"xref\n0 %d\n0000000000 65535 f \n" % size
for n in range(1, size):
    out += b"%010d 00000 n \n" % offsets[n]
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
open(path, "wb").write(out)
PY
    qpdf --check "$INPUT.part" >/dev/null || fail "the generated input PDF does not pass qpdf --check"
    mv "$INPUT.part" "$INPUT"
fi

# --- Quire: home, request, delivery, daemon -----------------------------------------------
QPORT=$(free_port)
HOME_DIR=$WORK/quire
mkdir -p "$HOME_DIR"
cat >"$HOME_DIR/quire.toml" <<EOF
data_dir = "var"

[server]
listen = "127.0.0.1:$QPORT"
public_url = "http://127.0.0.1:$QPORT"

[links]
downloads = 100000000
EOF
q() { (cd "$HOME_DIR" && "$QUIRE" --config quire.toml "$@"); }
q config check >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log" >&2; fail "quire config check refused the benchmark config"; }
q request add --id TN1 --patron "Bench" --email bench@example.org >>"$WORK/setup.log" 2>&1 \
    || { cat "$WORK/setup.log" >&2; fail "quire request add failed"; }
q deliver --request TN1 "$ROOT/$INPUT" >"$WORK/deliver.log" 2>&1 || { cat "$WORK/deliver.log" >&2; fail "quire deliver failed"; }
(cd "$HOME_DIR" && exec "$QUIRE" --config quire.toml daemon) >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_http "http://127.0.0.1:$QPORT/healthz" "quire daemon"
PAGE_URL=$(q links --json 2>>"$WORK/setup.log" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["url"])')
FILE_URL="$PAGE_URL/file"

# The delivered bytes, fetched once, are what nginx serves; they must be the stored object.
mkdir -p "$WORK/www"
curl -fsS -o "$WORK/www/delivered.pdf" "$FILE_URL" || fail "downloading the delivered PDF failed"
curl -fsS -o "$WORK/www/page.html" "$PAGE_URL" || fail "fetching the borrower page failed"
chmod 755 "$WORK/www" && chmod 644 "$WORK/www/"*
SHA=$(sha256sum "$WORK/www/delivered.pdf" | cut -d' ' -f1)
STORED=$(find "$HOME_DIR/var" -type f -name "*$SHA*" | head -1)
[[ -n "$STORED" ]] || fail "the downloaded PDF (sha256 $SHA) is not an object in the Quire store"
qpdf --check "$WORK/www/delivered.pdf" >/dev/null || fail "the delivered PDF does not pass qpdf --check"
FILE_BYTES=$(stat -c %s "$WORK/www/delivered.pdf")
PAGE_BYTES=$(stat -c %s "$WORK/www/page.html")

# --- nginx on its own port and prefix -----------------------------------------------------
NPORT=$(free_port)
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    types { application/pdf pdf; text/html html; }
    server {
        listen 127.0.0.1:$NPORT;
        root $WORK/www;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -t >/dev/null 2>&1 || {
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -t >&2; fail "nginx refused its config"; }
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>>"$WORK/nginx/logs/error.log" &
NGINX_PID=$!
NGINX_FILE_URL="http://127.0.0.1:$NPORT/delivered.pdf"
NGINX_PAGE_URL="http://127.0.0.1:$NPORT/page.html"
wait_http "$NGINX_FILE_URL" "nginx"
cmp -s <(curl -fsS "$NGINX_FILE_URL") "$WORK/www/delivered.pdf" || fail "nginx does not serve the delivered bytes"

# --- measuring ----------------------------------------------------------------------------
# wrk's Lua `done` hook prints the totals in one parseable line next to wrk's own report.
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d bytes=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d status_errors=%d timeouts=%d\n",
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write, e.status, e.timeout))
end
LUA

# CPU seconds (user+system) used so far by a process and its children threads/processes.
cpu_ticks() { # pid...
    local total=0 p
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] || continue
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    done
    echo "$total"
}
server_pids() { # quire|nginx
    if [[ "$1" == quire ]]; then echo "$DAEMON_PID"; else echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; fi
}
# Ticks of the whole machine: process time (user, nice, system) and interrupt time (irq,
# softirq: loopback TCP delivery lands here), to tell how much of the machine went to
# processes other than the server and wrk during a measurement.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4, $7 + $8 }' /proc/stat; }
TICKS=$(getconf CLK_TCK)

# Runs wrk against one server; prints "requests bytes seconds p50_ms p90_ms p99_ms max_ms
# errors status_errors timeouts server_cpu_s wrk_cpu_s other_cpu_s irq_cpu_s" (CPU in
# core-seconds).
run_wrk() { # label, server, connections, url
    local label=$1 server=$2 conn=$3 url=$4 log before after m_before m_after i_before i_after
    log="$OUT/$label.log"
    local cmd=(wrk -t"$THREADS" -c"$conn" -d"${DURATION}s" --timeout 60s --latency -s "$WORK/report.lua" "$url")
    # run_wrk runs in a subshell (process substitution): the command list goes to a file.
    echo "${cmd[*]}" >>"$WORK/commands"
    wrk -t"$THREADS" -c"$conn" -d"${WARMUP}s" --timeout 60s "$url" >/dev/null 2>&1 || true
    # shellcheck disable=SC2046
    before=$(cpu_ticks $(server_pids "$server")); read -r m_before i_before < <(machine_ticks)
    /usr/bin/time -f "%U %S" -o "$log.time" "${cmd[@]}" >"$log" 2>&1 || { cat "$log" >&2; fail "wrk failed against $label"; }
    sed -i 's|/d/[A-Za-z0-9_-]*|/d/TOKEN|' "$log" # the link dies with the temporary home anyway
    # shellcheck disable=SC2046
    after=$(cpu_ticks $(server_pids "$server")); read -r m_after i_after < <(machine_ticks)
    awk -v cpu=$((after - before)) -v machine=$((m_after - m_before)) -v irq=$((i_after - i_before)) -v hz="$TICKS" \
        -v wrk_cpu="$(awk '{ print $1 + $2 }' "$log.time")" '/^WRK / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        # %.0f, not %d: in mawk %d stops at 2^31, and a run moves more bytes than that.
        other = machine / hz - cpu / hz - wrk_cpu
        printf "%.0f %.0f %.3f %.2f %.2f %.2f %.2f %d %d %d %.2f %.2f %.2f %.2f\n", v["requests"], v["bytes"], v["duration_us"] / 1e6,
            v["p50_us"] / 1e3, v["p90_us"] / 1e3, v["p99_us"] / 1e3, v["max_us"] / 1e3,
            v["errors"], v["status_errors"], v["timeouts"], cpu / hz, wrk_cpu, (other > 0 ? other : 0), irq / hz }' "$log" | grep . || fail "no wrk summary in $log"
}

MIB=1048576
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
lines=()
add() { lines+=("$*"); }
add "delivery: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
add "          $("$QUIRE" --version) vs nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||'); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
add "          file: the stamped delivery of a generated ${SIZE_MB} MiB PDF, $FILE_BYTES bytes ($(awk -v b="$FILE_BYTES" -v m=$MIB 'BEGIN { printf "%.1f", b / m }') MiB), sha256 ${SHA:0:16}..."
add "          load average before the run: $LOAD_BEFORE (other work on the machine skews every figure)"
add "          wrk -t$THREADS, ${DURATION} s per measurement after a ${WARMUP} s warm-up, $ROUNDS rounds alternating quire and nginx"
add "          CPU columns: core-seconds used during the measurement by the server, by wrk, by every"
add "          other process on the machine (other engineers' builds and tests count there; the % is"
add "          their share of all cores), and in interrupts (irq+softirq: loopback TCP delivery)"
add ""
pct() { awk -v c="$1" -v s="$2" -v n="$(nproc)" 'BEGIN { printf "%.0f%%", 100 * c / s / n }'; }
add "downloads (GET /d/{token}/file vs nginx static file, $DL_CONN connections):"
q_bytes=0; q_secs=0; n_bytes=0; n_secs=0; broken=0
for round in $(seq "$ROUNDS"); do
    for server in quire nginx; do
        if [[ $server == quire ]]; then url=$FILE_URL; else url=$NGINX_FILE_URL; fi
        read -r reqs bytes secs p50 p90 p99 max errs status tmo cpu wcpu ocpu icpu \
            < <(run_wrk "download-$server-$round" "$server" "$DL_CONN" "$url")
        mibs=$(awk -v b="$bytes" -v s="$secs" -v m=$MIB 'BEGIN { printf "%.1f", b / m / s }')
        add "$(printf '  round %d %-5s %7.1f MiB/s %5.1f downloads/s  p50 %6.1f ms p99 %7.1f ms  %5d responses  errors %d/%d/%d' \
            "$round" "$server" "$mibs" "$(awk -v r="$reqs" -v s="$secs" 'BEGIN { print r / s }')" "$p50" "$p99" "$reqs" \
            "$errs" "$status" "$tmo")"
        add "$(printf '                CPU server %4.1f (%.2f core-s per GiB sent) wrk %4.1f others %4.1f (%s) irq %4.1f' \
            "$cpu" "$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { print c / (b / 1073741824) }')" "$wcpu" "$ocpu" "$(pct "$ocpu" "$secs")" "$icpu")"
        ((errs + status > 0)) && broken=1
        if [[ $server == quire ]]; then q_bytes=$((q_bytes + bytes)); q_secs=$(awk -v a="$q_secs" -v b="$secs" 'BEGIN { print a + b }')
        else n_bytes=$((n_bytes + bytes)); n_secs=$(awk -v a="$n_secs" -v b="$secs" 'BEGIN { print a + b }'); fi
    done
done
q_rate=$(awk -v b="$q_bytes" -v s="$q_secs" -v m=$MIB 'BEGIN { printf "%.1f", b / m / s }')
n_rate=$(awk -v b="$n_bytes" -v s="$n_secs" -v m=$MIB 'BEGIN { printf "%.1f", b / m / s }')
ratio=$(awk -v q="$q_rate" -v n="$n_rate" 'BEGIN { printf "%.2f", q / n }')
add "$(printf '  all rounds: quire %.1f MiB/s (%.1f downloads/s), nginx %.1f MiB/s (%.1f downloads/s)' \
    "$q_rate" "$(awk -v r="$q_rate" -v b="$FILE_BYTES" -v m=$MIB 'BEGIN { print r * m / b }')" \
    "$n_rate" "$(awk -v r="$n_rate" -v b="$FILE_BYTES" -v m=$MIB 'BEGIN { print r * m / b }')")"
add "  ratio quire/nginx ${ratio}x (target >= 0.8x: $(awk -v r="$ratio" 'BEGIN { print (r >= 0.8 ? "met" : "MISSED") }'))"
add ""
add "borrower page (GET /d/{token}, $PAGE_BYTES bytes of HTML, $PAGE_CONN connections; nginx serves a static copy: a floor, not a target):"
page_p99s=()
for round in $(seq "$ROUNDS"); do
    for server in quire nginx; do
        if [[ $server == quire ]]; then url=$PAGE_URL; else url=$NGINX_PAGE_URL; fi
        read -r reqs bytes secs p50 p90 p99 max errs status tmo cpu wcpu ocpu icpu \
            < <(run_wrk "page-$server-$round" "$server" "$PAGE_CONN" "$url")
        add "$(printf '  round %d %-5s p50 %6.2f ms p90 %6.2f ms p99 %7.2f ms max %7.2f ms  %6.0f req/s  errors %d/%d/%d' \
            "$round" "$server" "$p50" "$p90" "$p99" "$max" "$(awk -v r="$reqs" -v s="$secs" 'BEGIN { print r / s }')" \
            "$errs" "$status" "$tmo")"
        add "$(printf '                CPU server %4.1f wrk %4.1f others %4.1f (%s) irq %4.1f' "$cpu" "$wcpu" "$ocpu" "$(pct "$ocpu" "$secs")" "$icpu")"
        ((errs + status > 0)) && broken=1
        [[ $server == quire ]] && page_p99s+=("$p99 ms")
    done
done
add "  quire page p99 under $PAGE_CONN connections, by round: $(IFS=,; echo "${page_p99s[*]}" | sed 's/,/, /g')"
add ""
add "audit: $(q audit verify 2>/dev/null | tail -1)"
add "notes:"
add "  - errors a/b/c = socket errors (connect+read+write) / non-2xx responses / timeouts; all should be 0."
add "  - the machine has $(nproc) cores and wrk shares them with the server, so both servers are partly"
add "    CPU-bound on the load generator; figures are relative, not what a separate client would see."
add "  - every Quire download is counted and audited: one SQLite write transaction (link counter +"
add "    hash-chained audit event). The stored file is verified with SHA-256 on read; a file verified"
add "    before and unchanged since (same inode, size, mtime, ctime; re-hashed at least every 15 min)"
add "    is sent without re-hashing, its metadata checked again before the last chunk. Quire copies"
add "    the file through user space in 1 MiB chunks; nginx does neither and uses sendfile(2)."
add "  - loopback TCP work (softirq) is charged to whichever process is on the CPU, so the split of"
add "    kernel time between server and wrk is approximate; 'others' is everything else on the machine."
add "  - Quire runs with its default logging (info); tower-http request spans are not printed at info."
add "commands:"
add "  quire: (cd HOME && quire --config quire.toml daemon); quire.toml: data_dir=\"var\", [server] listen/public_url 127.0.0.1:PORT, [links] downloads=100000000"
add "  nginx: nginx -p PREFIX -c PREFIX/nginx.conf (daemon off; worker_processes auto; sendfile on; access_log off)"
while read -r c; do
    c=${c//$WORK/\$WORK}; c=${c//$PAGE_URL/http://127.0.0.1:QPORT/d/TOKEN}
    add "  ${c//127.0.0.1:$NPORT/127.0.0.1:NPORT}"
done <"$WORK/commands"

printf '%s\n' "${lines[@]}" | tee bench-out/delivery.txt
if ((broken)); then
    echo "delivery bench: some requests failed (see errors above and $OUT/*.log)" >&2
    exit 1
fi
