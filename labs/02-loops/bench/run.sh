#!/usr/bin/env bash
# `just bench` for lab 02: round trips per second of lab02-server against the
# tutorials' Python ThreadingTCPServer, both measured now, on this machine.
set -euo pipefail
cd "$(dirname "$0")/../../.."

clients=${CLIENTS:-50}
round_trips=${ROUND_TRIPS:-2000}
size=${SIZE:-64}

cargo build --release --quiet -p lab02-loops
bin=target/release

# Starts a server on a free port; sets server_pid and server_addr once it is
# listening. Its first stdout line is read as it comes: no sleep, no guessing.
start_server() {
    exec {server_fd}< <(exec "$@" --port 0 2>/dev/null)
    server_pid=$!
    read -r line <&"$server_fd"
    server_addr=${line#listening on }
}

# Runs the crowd against server_addr, shows its report, and sets `rate`.
measure() {
    echo "== $1: $clients clients x $round_trips round trips of $size bytes"
    report=$("$bin/lab02-crowd" --host "${server_addr%:*}" --port "${server_addr##*:}" \
        --clients "$clients" --round-trips "$round_trips" --size "$size")
    echo "$report"
    rate=$(sed -n 's/.* = \([0-9]*\) per second.*/\1/p' <<<"$report")
}

start_server "$bin/lab02-server" --quiet
measure "lab02-server (Rust, a thread per client)"
rust_rate=$rate
kill "$server_pid"

start_server python3 labs/02-loops/bench/threading_echo_server.py
python_version=$(python3 -c 'import platform; print(platform.python_version())')
measure "socketserver.ThreadingTCPServer (Python $python_version)"
python_rate=$rate
kill "$server_pid"

echo
echo "lab02-server: $rust_rate round trips/s; Python ThreadingTCPServer: $python_rate round trips/s"
awk -v rust="$rust_rate" -v python="$python_rate" \
    'BEGIN { printf "ratio: %.1fx the Python baseline, measured in the same run on %d cores\n", rust / python, '"$(nproc)"' }'
