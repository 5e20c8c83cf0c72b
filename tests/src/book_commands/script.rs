//! Turns a chapter's steps into one bash script, so the commands share a shell
//! (a `cd` or a variable carries over, as in the reader's terminal).
//!
//! Each step's output (stdout and stderr together, as a terminal shows them)
//! goes to its own file, and its exit status to another; `$?` is restored
//! before the next step, so `echo $?` in the book prints what the reader sees.
//! Each step's start and end times (bash's `$EPOCHREALTIME`) go to `N.time`.

use std::fmt::Write;
use std::path::Path;

use super::parse::{Mode, Step};

/// How long a background command may take to print its first line (a
/// server's `listening on`); the rest of what it shows is compared at the end.
pub const BACKGROUND_WAIT_SECONDS: u32 = 10;

/// The helpers every script starts with.
///
/// `__stop` is the reader's Ctrl-C in the first terminal: it stops every
/// background job and all its descendants (a job is a subshell that runs
/// `just`, which runs the server), deepest first. `__await` waits, by polling
/// the output file (never a fixed sleep), until a background job printed
/// enough lines, or stopped, or took too long.
const PRELUDE: &str = r#"set +e
__killed=""
__kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do __kill_tree "$child"; done
    kill "$1" 2>/dev/null && __killed="$__killed $1"
}
__stop() {
    local job pid tries
    __killed=""
    for job in $(jobs -p); do __kill_tree "$job"; done
    wait 2>/dev/null
    # A signal takes effect when the process next runs: wait until every one
    # is gone (its ports free again) before the next step starts another.
    for pid in $__killed; do
        for ((tries = 0; tries < 100; tries++)); do
            [ -z "$(ps -o stat= -p "$pid" 2>/dev/null | grep -v Z)" ] && break
            sleep 0.05
        done
    done
}
__await() {
    local tries
    for ((tries = 0; tries < __AWAIT_TRIES; tries++)); do
        [ "$(wc -l < "$1")" -ge "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || return 0
        sleep 0.05
    done
    echo "waited $__AWAIT_SECONDS s" > "$1.late"
}
__status=0
"#;

/// The script that runs `steps` in `repo`, writing `N.out` / `N.status` into `out`.
pub fn script(steps: &[Step], repo: &Path, out: &Path) -> String {
    let mut text = PRELUDE
        .replace("__AWAIT_TRIES", &(BACKGROUND_WAIT_SECONDS * 20).to_string())
        .replace("__AWAIT_SECONDS", &BACKGROUND_WAIT_SECONDS.to_string());
    let out = shell_path(out);
    let _ = writeln!(text, "cd {}", shell_path(repo));
    for (number, step) in steps.iter().enumerate() {
        if step.stop_first {
            text.push_str("__stop\n");
        }
        if let Mode::Skip(_) = step.mode {
            continue;
        }
        let _ = writeln!(text, "# step {number}, line {}", step.line);
        let _ = writeln!(
            text,
            "echo {number} > {out}/current; __started=$EPOCHREALTIME"
        );
        let files = format!("< /dev/null > {out}/{number}.out 2>&1");
        if step.mode == Mode::Background {
            let _ = writeln!(
                text,
                "(exit $__status); {{ {}\n}} {files} &\n__await {out}/{number}.out 1 $!\n\
                 echo 0 > {out}/{number}.status; echo \"$__started $EPOCHREALTIME\" > {out}/{number}.time",
                step.command
            );
        } else {
            let _ = writeln!(
                text,
                "(exit $__status); {{ {}\n}} {files}\n__status=$?; echo $__status > {out}/{number}.status\n\
                 echo \"$__started $EPOCHREALTIME\" > {out}/{number}.time",
                step.command
            );
        }
    }
    text.push_str("__stop\n");
    let _ = writeln!(text, "echo done > {out}/finished");
    text
}

/// A path quoted for the script.
fn shell_path(path: &Path) -> String {
    crate::grade::shell_quote(&path.to_string_lossy())
}
