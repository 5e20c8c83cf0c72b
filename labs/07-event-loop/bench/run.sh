#!/usr/bin/env bash
# `just bench` for lab 07: 10,000 clients connected at once, served four ways,
# measured now, on this machine, in the same run:
#   lab07-server (our mio loop), lab07-server --engine tokio,
#   lab02-server (a thread per client, --max-clients 10000),
#   and Python asyncio (bench/asyncio_server.py).
# The load is lab07-client's load mode: an event loop itself, holding every
# connection open at once, then a round trip on each, all together, ROUNDS times.
# For each server: its peak memory (VmHWM) and most threads seen (from
# /proc/PID/status), and what the client saw.
set -euo pipefail
cd "$(dirname "$0")/../../.."

connections=${CONNECTIONS:-10000}
rounds=${ROUNDS:-5}
size=${SIZE:-32}
runs=${RUNS:-1}

cargo build --release --quiet -p lab07-event-loop -p lab02-loops
bin=target/release

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "load average $(cut -d ' ' -f 1-3 /proc/loadavg), Python $(python3 -c 'import platform; print(platform.python_version())')," \
    "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
echo "load: $connections connections held open at once, then $rounds round trips of $size bytes on each, all together"

# Starts a server on a free port; sets server_pid and server_addr once it is
# listening. Its first stdout line is read as it comes: no sleep, no guessing.
start_server() {
    exec {server_fd}< <(exec "$@" --port 0 2>/dev/null)
    server_pid=$!
    read -r line <&"$server_fd"
    server_addr=${line#listening on }
}

# The highest Threads: count of process $1 while process $2 runs.
peak_threads() {
    local peak=0 now
    while kill -0 "$2" 2>/dev/null; do
        now=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null || true)
        if [[ -n $now && $now -gt $peak ]]; then peak=$now; fi
        sleep 0.02
    done
    echo "$peak"
}

rows=()
# Runs the load against a fresh server (the command given), shows the
# client's report, and adds a row to the table: name | MiB | threads | ...
measure() {
    local name=$1
    shift
    start_server "$@"
    local report=/tmp/lab07-bench-$$.txt
    "$bin/lab07-client" --host "${server_addr%:*}" --port "${server_addr##*:}" \
        --connections "$connections" --rounds "$rounds" --size "$size" --timeout 120 \
        >"$report" 2>&1 &
    local client=$!
    local threads
    threads=$(peak_threads "$server_pid" "$client")
    wait "$client" || true
    local hwm_kib
    hwm_kib=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status")
    kill "$server_pid"
    exec {server_fd}<&-
    sed 's/^/    /' "$report"
    local connect rate p99 failures
    connect=$(sed -n 's/.*all within \([0-9.]*\) s.*/\1/p' "$report")
    rate=$(sed -n 's/.* = \([0-9]*\) per second.*/\1/p' "$report")
    p99=$(sed -n 's/.*latency p50 [0-9.]* ms, p99 \([0-9.]*\) ms.*/\1/p' "$report")
    failures=$(sed -n 's/^failures: //p' "$report")
    rm -f "$report"
    rows+=("$name|$(awk -v k="$hwm_kib" 'BEGIN { printf "%.1f", k / 1024 }')|$threads|${connect:--}|${rate:--}|${p99:--}|${failures:-all}")
}

for run in $(seq "$runs"); do
    echo "== run $run: lab07-server (mio, one thread)"
    measure "lab07-server (mio)" "$bin/lab07-server" --quiet
    echo "== run $run: lab07-server --engine tokio (current-thread runtime)"
    measure "lab07-server --engine tokio" "$bin/lab07-server" --engine tokio --quiet
    echo "== run $run: lab02-server --max-clients $connections (a thread per client)"
    measure "lab02-server (threads)" "$bin/lab02-server" --quiet --max-clients "$connections" --backlog 4096
    echo "== run $run: Python asyncio (start_server, readline, write, drain)"
    measure "Python asyncio" python3 labs/07-event-loop/bench/asyncio_server.py --backlog 4096
done

echo
echo "| server | peak RSS (MiB) | threads (most seen) | all connected (s) | round trips/s | p99 (ms) | failures |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
    echo "| ${row//|/ | } |"
done

# The issue's targets, checked on the last run's rows.
printf '%s\n' "${rows[@]: -4}" | awk -F'|' '
    { rss[NR] = $2; threads[NR] = $3; failures[NR] = $7 }
    END {
        verdict = (threads[1] <= 2 && failures[1] == 0) ? "met" : "MISSED"
        printf "target: mio serves all with at most 2 threads: %s (%d threads, %s failures)\n", verdict, threads[1], failures[1]
        verdict = (rss[1] <= rss[4] / 2) ? "met" : "MISSED"
        printf "target: mio peak RSS at most half of asyncio'\''s: %s (%.1f vs %.1f MiB)\n", verdict, rss[1], rss[4]
        verdict = (rss[2] <= rss[1] * 1.5) ? "met" : "MISSED"
        printf "target: tokio within 1.5x mio'\''s memory: %s (%.1f vs %.1f MiB, %.2fx)\n", verdict, rss[2], rss[1], rss[2] / rss[1]
    }'
