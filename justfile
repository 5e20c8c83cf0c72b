# The recipes of the sockets labs. Run `just` to list them.

set positional-arguments
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list --unsorted

# Run lab NUM's demo: the real server and client together, both sides labelled (NUM: 1, 01 or hello)
[no-exit-message]
lab NUM: build
    @target/debug/labkit demo "$1"

# Run lab NUM's server in this terminal, with any options after NUM (try --help)
[no-exit-message]
server NUM *ARGS: build
    @bin=$(target/debug/labkit binary "$1" server) && shift && exec target/debug/"$bin" "$@"

# Run lab NUM's client in this terminal, with any options or messages after NUM
[no-exit-message]
client NUM *ARGS: build
    @bin=$(target/debug/labkit binary "$1" client) && shift && exec target/debug/"$bin" "$@"

# Run one of lab NUM's extra tools, e.g. just tool 02 crowd --clients 50
[no-exit-message]
tool NUM NAME *ARGS: build
    @bin=$(target/debug/labkit binary "$1" "$2") && shift 2 && exec target/debug/"$bin" "$@"

# Build every lab (quietly; only errors are shown)
build:
    @# The book's command check runs the recipes in scratch copies of the suite
    @# that share this target/ folder, already built: it sets LABS_ALREADY_BUILT.
    @[ -n "${LABS_ALREADY_BUILT:-}" ] || cargo build --quiet --workspace --bins

# Run every test, then check that the book builds and its code listings resolve
test: build _bubblewrap
    @# cargo-nextest runs the labs' test programs side by side (about 4 times faster
    @# here); plain cargo test runs them one after another, and works everywhere.
    @if cargo nextest --version >/dev/null 2>&1; then \
        cargo nextest run --workspace --test-threads 8 --no-fail-fast; \
    else \
        echo "(cargo-nextest is not installed: running cargo test, which takes longer)"; \
        cargo test --workspace; \
    fi
    @just _mdbook build book
    target/debug/labkit check-book book/src --html book/build
    target/debug/labkit check-book-commands book/src

# Serve the book at http://localhost:3000, rebuilding when a lab's code changes
book:
    @just _mdbook serve book --open

# Grade lab NUM: ours by default, or --server 'CMD' / --client 'CMD' / --crate PATH (see the book's chapter for instructors)
[no-exit-message]
grade NUM *ARGS: build
    @target/debug/labkit grade "$@"

# Grade every student (subfolder) of DIR for lab NUM, each in a sandbox, into a gradebook: --server/--client 'CMD' or --crate, --jobs N, --out OUT, --only-missing, --no-sandbox
[no-exit-message]
grade-class NUM DIR *ARGS: build
    @target/debug/labkit grade-class "$@"

# Write a Gradescope autograder zip for lab NUM: --server/--client 'CMD' or --crate, --hide CHECK,...
[no-exit-message]
autograder NUM ZIP *ARGS: build
    @target/debug/labkit autograder "$@"

# Time grade-class against `just grade` in a loop on 40 Python submissions of lab 02 (a few minutes)
bench-class: build
    bash tests/bench/grade-class.sh

# Write a starter crate for lab NUM into the new folder DIR: the lab with its lessons left as TODOs
[no-exit-message]
starter NUM DIR: build
    @target/debug/labkit starter "$1" "$2"

# Grade every deliberately broken fixture: each must lose exactly its checks, and the correct ones none
check-fixtures: build
    target/debug/labkit check-fixtures

# Check that every starter is formatted, builds without warnings and fails its grade, and that every reference passes it
check-starters: build
    target/debug/labkit check-starters

# Grade every correct program (references, fixtures that lose nothing) RUNS times on busy cores; all must be full marks
check-flakes RUNS *LABS: build
    target/debug/labkit check-flakes "$@"

# Relay to a server and re-cut the byte stream, e.g. just proxy --to 127.0.0.1:8005 --cut bytes
[no-exit-message]
proxy *ARGS: build
    @target/debug/labkit proxy "$@"

# Measure speed against baselines run on this machine now (a few minutes; lab 06 moves 1 GiB files, lab 07 holds 10,000 clients)
bench:
    bash labs/02-loops/bench/run.sh
    cargo build --release --quiet -p lab06-file-transfer --bins
    target/release/lab06-bench
    bash labs/07-event-loop/bench/run.sh

# Mutation-test lab NUM's lesson files against its graded rubric alone (slow: minutes; not part of CI)
[no-exit-message]
mutants NUM: build
    @command -v cargo-mutants >/dev/null || { echo "cargo-mutants is not installed; installing it with cargo (once, a few minutes)..." >&2; cargo install --locked cargo-mutants; }
    @bash tests/mutants/run.sh "$1"

# Capture the book's packets on the wire again with tcpdump (needs root or CAP_NET_RAW)
captures: build
    target/debug/labkit captures

# Capture demo output and rubric tables again for the book, for the labs given or all
transcripts *LABS: build
    target/debug/labkit transcripts "$@"

# What CI runs: format check, clippy with warnings as errors, every test, the starters and fixtures, and the book's packet captures (skipped without tcpdump or root)
ci:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    just test
    just check-starters
    just check-fixtures
    @# The autograder zip built and run as Gradescope would, and a class of crates: cold builds, so not in `just test`.
    cargo test --quiet -p labkit --test class -- --ignored
    target/debug/labkit captures --check
    just check-flakes 3

# Runs mdbook, installing it first if this machine does not have it
_mdbook *ARGS:
    @command -v mdbook >/dev/null || { echo "mdbook is not installed; installing it with cargo (once, a few minutes)..." >&2; cargo install --locked mdbook; }
    mdbook "$@"

# Installs bubblewrap where it is missing: grade-class's sandbox and the book's command check use it
_bubblewrap:
    @command -v bwrap >/dev/null || { echo "bubblewrap (bwrap) is not installed; installing it with apt-get (once), for the grading sandbox..." >&2; if [ "$(id -u)" = 0 ]; then apt-get install -y bubblewrap || { apt-get update && apt-get install -y bubblewrap; }; else sudo apt-get install -y bubblewrap; fi; }
