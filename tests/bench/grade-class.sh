#!/usr/bin/env bash
# Times `grade-class` against `just grade` in a loop, on the same class in the
# same run: 40 Python submissions of lab 02 made from tests/fixtures/lab02,
# 28 correct and 12 broken in six ways (two of each). Prints both wall times,
# the median per student, the speed-up, and the load average before and
# after (other work on the machine slows both).
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=$PWD
students=${STUDENTS:-40}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixtures=$suite/tests/fixtures/lab02

# A student's file that runs a fixture with its --bug, as their own would.
wrapper() {
    printf 'import runpy, sys\nsys.argv[0] = "%s"\nsys.argv[1:1] = [%s]\nrunpy.run_path(sys.argv[0], run_name="__main__")\n' "$1" "$2"
}
broken=(server:one-by-one server:dies-on-reset server:no-connection-loop
        client:sends-empty-lines client:one-message missing:server.py)
for i in $(seq -w 1 "$students"); do
    dir=$work/class/student-$i
    mkdir -p "$dir"
    wrapper "$fixtures/server.py" "" > "$dir/server.py"
    wrapper "$fixtures/client.py" "" > "$dir/client.py"
    n=$((10#$i))
    if (( n % 10 == 3 || n % 10 == 7 || n % 10 == 9 )); then
        bug=${broken[$(( (n / 3) % ${#broken[@]} ))]}
        case $bug in
            server:*) wrapper "$fixtures/server.py" "'--bug', '${bug#*:}'" > "$dir/server.py" ;;
            client:*) wrapper "$fixtures/client.py" "'--bug', '${bug#*:}'" > "$dir/client.py" ;;
            missing:*) rm "$dir/${bug#*:}" ;;
        esac
    fi
done

just build
# Milliseconds since the epoch.
now() { echo $(( $(date +%s%N) / 1000000 )); }
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# JOBS=N grades N students at a time (default: one per core).
start=$(now)
target/debug/labkit grade-class 02 "$work/class" --server 'python3 server.py' \
    --client 'python3 client.py' --out "$work/grades" ${JOBS:+--jobs "$JOBS"} > "$work/class.txt"
class_ms=$(( $(now) - start ))
head -1 "$work/class.txt"

: > "$work/loop.txt"
start=$(now)
for dir in "$work"/class/*/; do
    before=$(now)
    just grade 02 --server "python3 $dir/server.py" --client "python3 $dir/client.py" \
        > "$work/one.txt" 2>&1 || true
    echo "$(( $(now) - before )) $(basename "$dir") $(grep -o '^lab 02: [0-9]*' "$work/one.txt" | grep -o '[0-9]*$')" >> "$work/loop.txt"
done
loop_ms=$(( $(now) - start ))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/grades/grades.csv" "$work/loop.txt" "$class_ms" "$loop_ms" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
loop = [line.split() for line in open(sys.argv[2])]
class_s, loop_s = int(sys.argv[3]) / 1000, int(sys.argv[4]) / 1000
class_scores = {row["student"]: int(row["score"]) for row in rows}
loop_scores = {parts[1]: int(parts[2]) for parts in loop}
print(f"grade-class: {len(rows)} students in {class_s:.1f} s")
print(f"just grade loop: {len(loop)} students in {loop_s:.1f} s, median {statistics.median(int(p[0]) / 1000 for p in loop):.1f} s per student")
print(f"speed-up: {loop_s / class_s:.2f}x")
for name in sorted(class_scores):
    if class_scores[name] != loop_scores.get(name):
        print(f"  {name}: {class_scores[name]} by grade-class, {loop_scores.get(name)} by the loop")
print(f"same scores both ways: {class_scores == loop_scores}")
PY
