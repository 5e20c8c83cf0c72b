#!/usr/bin/env bash
# Mutation-tests one lab's lesson files against the graded rubric alone:
# cargo-mutants plants a bug (a mutant) in the lab's code, rebuilds, and runs
# only `the_reference_scores_full_marks_on_the_graded_rubric` (and the tests
# whose names start with it: lab 07 grades its tokio engine in one). A mutant
# the grade still scores at 100 % is a bug the grader cannot see. Slow: a rebuild
# and a grade per mutant, minutes per lab. Usage: run.sh NN
#
# Mutants no black-box check can or should see (a log line's wording, a
# demo-only flag) are skipped by tests/mutants/labNN.skip, one per line:
#     REGEX ## why no check can or should see it
# The regex is matched against the mutant's name as `cargo mutants --list`
# prints it; an entry without a reason, or one that matches nothing, stops
# the run, so a skip can't outlive the code it was written for.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(target/debug/labkit binary "$1" server)
number=${bin:3:2}
dir=$(echo labs/"$number"-*)
package=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n 1)
files=()
for lesson in server client protocol frame names folder partial checksum event_loop lines tasks; do
    [ -f "$dir/src/$lesson.rs" ] && files+=(--file "$dir/src/$lesson.rs")
done
every=$(cargo mutants --no-config --list --package "$package" "${files[@]}")
skips=()
skipfile="tests/mutants/lab$number.skip"
if [ -f "$skipfile" ]; then
    while IFS= read -r line; do
        case "$line" in '' | '#'*) continue ;; esac
        regex=${line%% ## *}
        reason=${line#* ## }
        if [ "$regex" = "$line" ] || [ -z "$reason" ]; then
            echo "error: $skipfile: '$line' has no reason (hint: write REGEX ## why no check can or should see it)" >&2
            exit 1
        fi
        if ! grep -qE -- "$regex" <<<"$every"; then
            echo "error: $skipfile: '$regex' matches no mutant (hint: the code changed; update or delete the entry)" >&2
            exit 1
        fi
        skips+=(--exclude-re "$regex")
    done <"$skipfile"
fi
total=$(grep -c . <<<"$every")
tested=$(cargo mutants --no-config --list --package "$package" "${files[@]}" "${skips[@]}" | grep -c . || true)
echo "lab $number: $total mutants in $((${#files[@]} / 2)) lesson file(s) of $package, $((total - tested)) skipped ($skipfile); the rubric test is the only test"
status=0
cargo mutants --no-config --package "$package" "${files[@]}" "${skips[@]}" --output "target/mutants-$number" \
    --timeout 120 -- --test "lab$number" the_reference_scores_full_marks_on_the_graded_rubric || status=$?
out="target/mutants-$number/mutants.out"
count() { grep -c . "$out/$1.txt" 2>/dev/null || true; }
echo "| lab | mutants | caught | skipped with reason | missed | unviable | timeout |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "| $number | $total | $(count caught) | $((total - tested)) | $(count missed) | $(count unviable) | $(count timeout) |"
exit "$status"
