#!/usr/bin/env bash
# Many nodes (issue 16). Two parts, printed; nothing is appended to BENCHMARKS.md.
#
# 1. The state layer, PostgreSQL against SQLite in the same run (state/examples/nodes_bench.rs):
#    claim throughput and safety (10,000 synthetic jobs claimed and completed by 4 processes x
#    16 threads; double claims must be 0) and the audit append rate of 8 concurrent writers
#    (`audit verify` must pass). The example fails the run if either check fails.
# 2. Scale-out efficiency of the release `quire` binary on one PostgreSQL: the same 20 one-page
#    300-dpi scans as scripts/bench/intake.sh (quire_pipeline's bench_article, each named for
#    its own request, so it is delivered unattended), with intake.sh's settings (embedded
#    defaults: [processing] jobs = 0, one OCR worker per core; settle delay 1 s).
#      run A: one daemon (intake + worker), concurrent_jobs = 2;
#      run B: two daemons sharing the data_dir, "station-1" (intake + worker) and "worker-2"
#             (worker only), concurrent_jobs = 1 each.
#    Pages/min from the first drop to the last delivery (delivery.created), each, and B/A
#    (target >= 0.9), and the daemons' CPU seconds per page (user + system, from /proc), which
#    other work on the machine disturbs far less. ROUNDS (default 2) alternates A and B.
#
# PostgreSQL 15 (scripts/bootstrap installs it) runs in a throwaway cluster on a free loopback
# port, as the `postgres` user when we are root, with fsync on and synchronous_commit off (the
# crash guarantee of Quire's SQLite: WAL, synchronous = NORMAL). Writes bench-out/nodes.txt.
# Env: ROUNDS (2), SKIP_STATE=1 / SKIP_SCALEOUT=1, CLAIM_JOBS (10000), AUDIT_SECONDS (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT=bench-out/nodes
mkdir -p "$OUT"
TARGET="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET" = /* ]] || TARGET="$REPO/$TARGET"
ROUNDS="${ROUNDS:-2}"
PGBIN="${QUIRE_PG_BIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PGBIN/initdb" ]] || { echo "nodes bench: no PostgreSQL in $PGBIN (scripts/bootstrap installs postgresql-15)" >&2; exit 1; }

cargo build --release --quiet --bin quire
cargo build --release --quiet -p quire-state --example nodes_bench
cargo build --release --quiet -p quire-pipeline --example bench_article
Q="$TARGET/release/quire"
GEN="$TARGET/release/examples/bench_article"

lines=()
lines+=("Quire many-nodes benchmark — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)")
lines+=("command: scripts/bench/nodes.sh (make bench)")

# ---- 1. claims and audit appends -------------------------------------------------------------
if [[ "${SKIP_STATE:-0}" != 1 ]]; then
    "$TARGET/release/examples/nodes_bench" all --jobs "${CLAIM_JOBS:-10000}" --procs 4 --threads 16 \
        --writers 8 --seconds "${AUDIT_SECONDS:-10}" | tee "$OUT/state.txt"
    mapfile -t state < "$OUT/state.txt"
    lines+=("" "${state[@]}")
fi

# ---- 2. scale-out ------------------------------------------------------------------------------
if [[ "${SKIP_SCALEOUT:-0}" != 1 ]]; then
[[ -s "$OUT/one.pdf" ]] || "$GEN" generate "$OUT/one.pdf" "$OUT/truth-1" 1 300

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [[ $(id -u) = 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PIDS=()
HOMES=()
PGDIR=$(mktemp -d /tmp/quire-nodes-pg.XXXXXX)
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    (cd "$PGDIR" && as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1) || true
    rm -rf "$PGDIR" "${HOMES[@]}"
}
trap cleanup EXIT
[[ $(id -u) = 0 ]] && chown postgres: "$PGDIR"
PGPORT=$(free_port)
(cd "$PGDIR" && as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U quire --auth=trust -E UTF8 --locale=C >/dev/null)
(cd "$PGDIR" && as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGDIR -c synchronous_commit=off" start >/dev/null)
PGVERSION=$(cd "$PGDIR" && as_pg "$PGBIN/postgres" --version | awk '{print $3}')

# node_config home name roles concurrent_jobs port url -> writes home/name.toml
node_config() {
    cat > "$1/$2.toml" <<TOML
data_dir = "var"
[node]
name = "$2"
roles = [$3]
[server]
listen = "127.0.0.1:$5"
public_url = "http://127.0.0.1:$5"
[intake]
settle_secs = 1.0
concurrent_jobs = $4
[database]
backend = "postgres"
url = "$6"
pool_size = 8
TOML
}

start_node() { # home name port
    (cd "$1" && exec "$Q" --config "$2.toml" daemon 2>"$2.log") & PIDS+=($!)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$3/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "nodes bench: $2 did not start" >&2; cat "$1/$2.log" >&2; exit 1
}

stop_nodes() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}

# One run on a fresh home and database: the nodes named (the first takes the requests), 20 scans
# dropped, until 20 links exist. Writes "drop_to_last custody_to_last claims-per-node" to
# $OUT/run.txt (not through a subshell, so the cleanup trap sees every daemon).
scale_run() { # label "name:roles:concurrent" ...
    local label=$1; shift
    local home db url first=""
    home=$(mktemp -d); HOMES+=("$home")
    db="run_${label}_$RANDOM"
    (cd "$PGDIR" && as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U quire "$db")
    url="postgres://quire@127.0.0.1:$PGPORT/$db"
    local ports=()
    for spec in "$@"; do
        IFS=: read -r name roles conc <<<"$spec"
        local port; port=$(free_port); ports+=("$port")
        node_config "$home" "$name" "$roles" "$conc" "$port" "$url"
        [[ -n "$first" ]] || first=$name
    done
    for i in $(seq 1 20); do
        (cd "$home" && "$Q" --config "$first.toml" request add --id "TN$i" --patron "Bench Reader" --email bench@example.org >/dev/null 2>&1)
    done
    local n=0
    for spec in "$@"; do
        IFS=: read -r name _ _ <<<"$spec"
        start_node "$home" "$name" "${ports[$n]}"; n=$((n + 1))
    done
    mkdir -p "$home/var/inbox"
    for i in $(seq 1 20); do cp "$OUT/one.pdf" "$home/var/inbox/.TN$i.pdf"; done
    local dropped; dropped=$(date +%s.%N)
    for i in $(seq 1 20); do mv "$home/var/inbox/.TN$i.pdf" "$home/var/inbox/TN$i.pdf"; done
    local ok=0
    for _ in $(seq 3000); do
        if [[ $(cd "$home" && "$Q" --config "$first.toml" links --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -ge 20 ]]; then ok=1; break; fi
        sleep 0.2
    done
    # CPU the daemons used (OCR runs inside them), a figure the other work on the machine
    # disturbs far less than wall time: user + system seconds from /proc, read before they stop.
    local cpu=0 pid
    for pid in "${PIDS[@]}"; do
        cpu=$(awk -v c="$cpu" -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", c + ($14 + $15) / hz }' "/proc/$pid/stat")
    done
    stop_nodes
    [[ $ok = 1 ]] || { echo "nodes bench: run $label timed out" >&2; tail -20 "$home"/*.log >&2; exit 1; }
    (cd "$home" && "$Q" --config "$first.toml" audit verify >/dev/null 2>&1) || { echo "nodes bench: run $label: audit verify fails" >&2; exit 1; }
    (cd "$home" && "$Q" --config "$first.toml" audit export 2>/dev/null) | python3 -c "
import json, sys
from collections import Counter
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()
received, delivered, nodes, per_request = [], [], Counter(), Counter()
scan_events = 0
for line in sys.stdin:
    e = json.loads(line)
    # Events a scan causes (not the request's creation, not a daemon starting or stopping).
    if e['action'] != 'request.created' and not e['action'].startswith('daemon.'): scan_events += 1
    if e['action'] == 'job.received': received.append(t(e['time']))
    if e['action'] == 'delivery.created':
        delivered.append(t(e['time'])); per_request[e['subjects'].get('request')] += 1
    if e['action'] == 'job.processing': nodes[e['details'].get('node', '?')] += 1
assert len(delivered) == 20 and all(n == 1 for n in per_request.values()), (len(delivered), per_request)
print(f'{max(delivered) - $dropped:.2f} {max(delivered) - min(received):.2f} {scan_events / 20:.1f} {$cpu / 20:.2f}', ' '.join(f'{k}={v}' for k, v in sorted(nodes.items())))" > "$OUT/run.txt"
}

lines+=("")
lines+=("scale-out: 20 one-page 300-dpi scans (as intake.sh), one PostgreSQL $PGVERSION, [processing] jobs = 0 (one OCR worker per core, per daemon), settle 1 s")
A_ALL=(); B_ALL=(); A_CPU=(); B_CPU=()
for round in $(seq "$ROUNDS"); do
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    scale_run A 'station-1:"intake", "worker":2'
    read -r a_drop a_cust a_events a_cpu a_nodes < "$OUT/run.txt"
    scale_run B 'station-1:"intake", "worker":1' 'worker-2:"worker":1'
    read -r b_drop b_cust b_events b_cpu b_nodes < "$OUT/run.txt"
    a_ppm=$(python3 -c "print(f'{20*60/$a_drop:.1f}')"); b_ppm=$(python3 -c "print(f'{20*60/$b_drop:.1f}')")
    A_ALL+=("$a_drop"); B_ALL+=("$b_drop"); A_CPU+=("$a_cpu"); B_CPU+=("$b_cpu")
    lines+=("round $round  A one daemon, concurrent_jobs 2:       $a_ppm pages/min  (first drop -> last delivery ${a_drop} s; first custody -> last ${a_cust} s; claims: $a_nodes; $a_events audit events per scan; daemon CPU ${a_cpu} s per page)")
    lines+=("round $round  B two daemons, concurrent_jobs 1 each: $b_ppm pages/min  (first drop -> last delivery ${b_drop} s; first custody -> last ${b_cust} s; claims: $b_nodes; $b_events audit events per scan; daemon CPU ${b_cpu} s per page)")
    lines+=("round $round  load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other work shares them)")
    lines+=("round $round  B/A $(python3 -c "print(f'{$a_drop/$b_drop:.2f}')")x (target >= 0.9); CPU per page A/B $(python3 -c "print(f'{$a_cpu/$b_cpu:.2f}')")x (1 = no CPU lost to running two daemons)")
done
lines+=("all rounds  B/A $(python3 -c "print(f'{sum([${A_ALL[*]/%/,}])/sum([${B_ALL[*]/%/,}]):.2f}')")x (total time A / total time B); CPU per page A/B $(python3 -c "print(f'{sum([${A_CPU[*]/%/,}])/sum([${B_CPU[*]/%/,}]):.2f}')")x")
fi

printf '%s\n' "${lines[@]}" | tee bench-out/nodes.txt
