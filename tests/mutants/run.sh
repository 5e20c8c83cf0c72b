#!/usr/bin/env bash
# Mutation-tests one lab's lesson files against the graded rubric alone:
# cargo-mutants plants a bug (a mutant) in the lab's code, rebuilds, and runs
# only `the_reference_scores_full_marks_on_the_graded_rubric`. A mutant the
# grade still scores at 100 % is a bug the grader cannot see. Slow: a rebuild
# and a grade per mutant, minutes per lab. Usage: run.sh NN
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
echo "lab $number: mutating ${#files[@]} lesson file(s) of $package; the rubric test is the only test"
cargo mutants --package "$package" "${files[@]}" --output "target/mutants-$number" \
    --timeout 120 -- --test "lab$number" the_reference_scores_full_marks_on_the_graded_rubric
