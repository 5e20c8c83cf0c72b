#!/usr/bin/env bash
# `just bench` for lab 02: round trips per second of lab02-server against the
# tutorials' Python ThreadingTCPServer, both measured now, on this machine.
# The two servers take turns, RUNS times each, and the medians are compared:
# on a small shared machine one run alone says little.
set -euo pipefail
cd "$(dirname "$0")/../../.."

clients=${CLIENTS:-50}
round_trips=${ROUND_TRIPS:-2000}
size=${SIZE:-64}
runs=${RUNS:-3}

cargo build --release --quiet -p lab02-loops
bin=target/release

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "load average $(cut -d ' ' -f 1-3 /proc/loadavg), Python $(python3 -c 'import platform; print(platform.python_version())')"
echo "load: $clients clients x $round_trips round trips of $size bytes, $runs runs of each server"

# Starts a server on a free port; sets server_pid and server_addr once it is
# listening. Its first stdout line is read as it comes: no sleep, no guessing.
start_server() {
    exec {server_fd}< <(exec "$@" --port 0 2>/dev/null)
    server_pid=$!
    read -r line <&"$server_fd"
    server_addr=${line#listening on }
}

# Runs the crowd against a fresh server (the command given), shows the report,
# and appends the round trips per second to the list named by $1.
measure() {
    local -n rates=$1
    shift
    start_server "$@"
    report=$("$bin/lab02-crowd" --host "${server_addr%:*}" --port "${server_addr##*:}" \
        --clients "$clients" --round-trips "$round_trips" --size "$size")
    kill "$server_pid"
    sed 's/^/    /' <<<"$report"
    rates+=("$(sed -n 's/.* = \([0-9]*\) per second.*/\1/p' <<<"$report")")
}

median() {
    printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"
}

rust_rates=()
python_rates=()
for run in $(seq "$runs"); do
    echo "== run $run: lab02-server (Rust, a thread per client)"
    measure rust_rates "$bin/lab02-server" --quiet
    echo "== run $run: socketserver.ThreadingTCPServer (Python)"
    measure python_rates python3 labs/02-loops/bench/threading_echo_server.py
done

rust=$(median "${rust_rates[@]}")
python=$(median "${python_rates[@]}")
echo
echo "lab02-server: median $rust round trips/s (runs: ${rust_rates[*]})"
echo "Python ThreadingTCPServer: median $python round trips/s (runs: ${python_rates[*]})"
awk -v rust="$rust" -v python="$python" \
    'BEGIN { printf "ratio of the medians: %.1fx the Python baseline, measured in the same run\n", rust / python }'
