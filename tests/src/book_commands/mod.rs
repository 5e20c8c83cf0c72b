//! Runs every shell command the book shows, in the order each chapter gives
//! them, and checks that each one works and prints what the book says.
//!
//! Each chapter runs in its own scratch copy of the suite (the files git knows
//! about, and the `target/` folder shared, already built), so a chapter may
//! create folders and files as a reader would without touching the real tree.
//! Where `bwrap` can make one, each chapter also gets its own network
//! namespace and its own `/tmp`: chapters then run side by side, each with the
//! fixed ports (8001, 9000, …) the book uses, and whatever they leave running
//! dies with the namespace.

mod compare;
mod parse;
mod script;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use parse::{Mode, Step, Varies};

/// How the book writes the suite's folder where an output shows it (Python
/// prints a script's full path in a traceback); the scratch copy's path
/// becomes this before outputs are compared.
pub const SUITE_AS_SHOWN: &str = "/path/to/suite";

/// How the book writes the reader's home folder (`~`): each chapter runs with
/// a scratch home of its own, shown as this before outputs are compared.
pub const HOME_AS_SHOWN: &str = "/home/you";

/// How long one chapter's commands may take together.
///
/// Generous: a chapter takes under 20 s on a quiet machine, but a machine busy
/// with builds can make it several times slower, and only a command that
/// never ends (a server without its background marker) should fail here.
pub const CHAPTER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the run found, over the whole book.
#[derive(Debug, Default)]
pub struct Summary {
    /// Commands that ran.
    pub run: usize,
    /// Commands whose output the book shows, and that printed it.
    pub as_shown: usize,
    /// Commands the book marks as not runnable here.
    pub skipped: usize,
    /// Every failure, in a few lines each, naming the chapter and line.
    pub problems: Vec<String>,
    /// How long each command that ran took, in seconds, with where it is.
    pub timings: Vec<(f64, String)>,
}

impl Summary {
    /// The one line `just test` prints.
    pub fn line(&self) -> String {
        format!(
            "book: {} commands run, {} as shown, {} skipped",
            self.run, self.as_shown, self.skipped
        )
    }

    fn add(&mut self, other: Summary) {
        self.run += other.run;
        self.as_shown += other.as_shown;
        self.skipped += other.skipped;
        self.problems.extend(other.problems);
        self.timings.extend(other.timings);
    }
}

/// Where a chapter runs: the suite to copy and the built `target/` to share.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The suite's root folder (a git checkout).
    pub suite: PathBuf,
    /// Its `target/` folder, with `debug/` already built.
    pub target: PathBuf,
    /// Run each chapter in its own network namespace and `/tmp` (`bwrap`).
    pub sandboxed: bool,
}

/// A chapter's sandbox: the whole machine, seen as an ordinary user (uid 1000,
/// even when the checker runs as root, so that "permission denied" is what a
/// reader gets), with a network, a `/tmp` and processes of its own. Every
/// process a chapter starts dies with the sandbox, even if the checker itself
/// is stopped half-way (Ctrl-C).
const SANDBOX: [&str; 15] = [
    "--dev-bind",
    "/",
    "/",
    "--unshare-user",
    "--uid",
    "1000",
    "--gid",
    "1000",
    "--unshare-net",
    "--unshare-pid",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    "--die-with-parent",
];

/// True when `bwrap` can give a chapter its own network and `/tmp` here.
pub fn sandbox_works() -> bool {
    Command::new("bwrap")
        .args(SANDBOX)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs the commands of every chapter under `book_src` (or of the one chapter
/// it names): side by side when
/// sandboxed, one chapter after another when not.
pub fn check(book_src: &Path, setup: &Setup) -> Result<Summary, String> {
    let files = tracked_files(&setup.suite)?;
    let mut chapters = Vec::new();
    let paths = if book_src.is_file() {
        vec![book_src.to_path_buf()]
    } else {
        crate::book::markdown_files(book_src)?
    };
    for path in paths {
        let text = fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut steps = parse::steps(&text).map_err(|err| format!("{name}: {err}"))?;
        let dir = path.parent().unwrap_or(book_src);
        for shown in steps.iter_mut().filter_map(|step| step.shown.as_mut()) {
            *shown = expand_includes(shown, dir).map_err(|err| format!("{name}: {err}"))?;
        }
        idle_markers(&steps).map_err(|err| format!("{name}:{err}"))?;
        if !steps.is_empty() {
            chapters.push((name, steps));
        }
    }
    let mut summary = Summary::default();
    if setup.sandboxed {
        let results: Vec<Result<Summary, String>> = thread::scope(|scope| {
            let handles: Vec<_> = chapters
                .iter()
                .map(|(name, steps)| scope.spawn(|| run_chapter(name, steps, setup, &files)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a chapter's run panicked".into()))
                })
                .collect()
        });
        for result in results {
            summary.add(result?);
        }
    } else {
        for (name, steps) in &chapters {
            summary.add(run_chapter(name, steps, setup, &files)?);
        }
    }
    Ok(summary)
}

/// Fails on a block whose `varies digests` or `varies numbers` marker
/// changes nothing in any output the block shows: placeholders copied into
/// the book in place of a real run would otherwise pass whatever runs.
fn idle_markers(steps: &[Step]) -> Result<(), String> {
    for step in steps {
        let block: Vec<String> = steps
            .iter()
            .filter(|other| other.block == step.block)
            .flat_map(|other| other.shown.iter().flatten().cloned())
            .collect();
        if let Some(marker) = compare::idle_marker(&block, &step.varies) {
            return Err(format!(
                "{}: the output shown has nothing a `{marker:?}` marker could vary \
                 (placeholders in place of a real run's output?): show what a real run \
                 printed, as a failed check's report quotes it",
                step.line
            ));
        }
    }
    Ok(())
}

/// Shown output with each whole-file `{{#include path}}` line replaced by the
/// file's lines (the demos' transcripts).
fn expand_includes(shown: &[String], dir: &Path) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for line in shown {
        let included = line
            .trim()
            .strip_prefix("{{#include ")
            .and_then(|rest| rest.strip_suffix("}}"));
        match included {
            Some(file) => {
                let text = fs::read_to_string(dir.join(file.trim()))
                    .map_err(|err| format!("cannot read the included {file}: {err}"))?;
                lines.extend(text.lines().map(String::from));
            }
            None => lines.push(line.clone()),
        }
    }
    Ok(lines)
}

/// The files of the suite a fresh clone would have, plus new ones not yet
/// committed (so a chapter can show a tool before its first commit). Outside
/// a git checkout (an unpacked archive), every file but `target/`.
fn tracked_files(suite: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(suite)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => Ok(output
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            .collect()),
        _ => {
            let mut files = Vec::new();
            walk(suite, Path::new(""), &mut files)?;
            Ok(files)
        }
    }
}

/// Every file under `dir`, relative to the suite, leaving out build output.
fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(root.join(dir))
        .map_err(|err| format!("cannot list {}: {err}", root.join(dir).display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| err.to_string())?;
        let relative = dir.join(entry.file_name());
        let kind = entry.file_type().map_err(|err| err.to_string())?;
        if kind.is_dir() {
            if !matches!(entry.file_name().to_str(), Some("target" | ".git")) {
                walk(root, &relative, files)?;
            }
        } else if kind.is_file() {
            files.push(relative);
        }
    }
    Ok(())
}

/// Copies the suite into `repo`, sharing the built `target/`.
fn copy_suite(setup: &Setup, files: &[PathBuf], repo: &Path) -> Result<(), String> {
    for file in files {
        let from = setup.suite.join(file);
        if !from.is_file() {
            continue; // deleted in the working tree, not yet committed
        }
        let to = repo.join(file);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
        }
        fs::copy(&from, &to).map_err(|err| format!("cannot copy {}: {err}", from.display()))?;
    }
    std::os::unix::fs::symlink(&setup.target, repo.join("target"))
        .map_err(|err| format!("cannot link the target folder: {err}"))
}

/// Runs one chapter's steps in a fresh scratch copy and judges each one.
fn run_chapter(
    name: &str,
    steps: &[Step],
    setup: &Setup,
    files: &[PathBuf],
) -> Result<Summary, String> {
    let scratch = tempfile::Builder::new()
        .prefix("book-check-")
        .tempdir()
        .map_err(|err| format!("cannot make a scratch folder: {err}"))?;
    let base = scratch.path();
    let (repo, out, home) = (base.join("repo"), base.join("out"), base.join("home"));
    for dir in [&repo, &out, &home] {
        fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    copy_suite(setup, files, &repo)?;
    let script_path = base.join("script.sh");
    fs::write(&script_path, script::script(steps, &repo, &out))
        .map_err(|err| format!("cannot write the chapter's script: {err}"))?;

    let mut command = if setup.sandboxed {
        let mut bwrap = Command::new("bwrap");
        bwrap.args(SANDBOX);
        // The chapter's own `/tmp` hides the host's: a suite under `/tmp` (a
        // fresh clone, say) must stay visible as it is elsewhere, for labkit
        // reads its labs (and runs their demos) there, and its shared
        // `target/` too.
        if setup.suite.starts_with("/tmp") {
            bwrap.arg("--bind").arg(&setup.suite).arg(&setup.suite);
        }
        if setup.target.starts_with("/tmp") {
            bwrap.arg("--bind").arg(&setup.target).arg(&setup.target);
        }
        bwrap.arg("--bind").arg(base).arg(base).arg("bash");
        bwrap
    } else {
        Command::new("bash")
    };
    command
        .arg(&script_path)
        .env("LABS_ALREADY_BUILT", "1")
        .env("HOME", &home)
        // A reader's shell does not usually have it, and chapter 01 shows what
        // Python's buffering does without it.
        .env_remove("PYTHONUNBUFFERED")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    keep_toolchain_home(&mut command);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start bash for {name}: {err}"))?;
    let started = Instant::now();
    let finished = loop {
        if child.try_wait().ok().flatten().is_some() {
            break true;
        }
        if started.elapsed() > CHAPTER_TIMEOUT {
            break false;
        }
        thread::sleep(Duration::from_millis(20));
    };
    crate::process::kill_group(child.id());
    let _ = child.wait();

    let mut summary = Summary::default();
    if !finished {
        let current = read(&out.join("current"));
        let hung = current
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| steps.get(i));
        summary.problems.push(match hung {
            Some(step) => format!(
                "{name}:{}: `{}` was still running after {} s: a program the reader leaves \
                 running in another terminal needs <!-- book-check: background -->",
                step.line,
                step.command,
                CHAPTER_TIMEOUT.as_secs()
            ),
            None => format!(
                "{name}: the chapter's commands did not finish within {} s",
                CHAPTER_TIMEOUT.as_secs()
            ),
        });
    }
    for (number, step) in steps.iter().enumerate() {
        judge(name, number, step, &out, &repo, &mut summary);
    }
    Ok(summary)
}

/// A changed `HOME` must not hide the Rust toolchain from `cargo` and `rustup`.
fn keep_toolchain_home(command: &mut Command) {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return;
    };
    for (variable, folder) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        if std::env::var_os(variable).is_none() {
            command.env(variable, home.join(folder));
        }
    }
}

/// Counts one step and records what is wrong with it, if anything.
fn judge(name: &str, number: usize, step: &Step, out: &Path, repo: &Path, summary: &mut Summary) {
    if let Mode::Skip(_) = step.mode {
        summary.skipped += 1;
        return;
    }
    let Ok(status) = fs::read_to_string(out.join(format!("{number}.status"))) else {
        return; // never reached: the timeout above says where it stopped
    };
    summary.run += 1;
    let home = repo.with_file_name("home");
    let printed = read(&out.join(format!("{number}.out")))
        .replace(&*repo.to_string_lossy(), SUITE_AS_SHOWN)
        .replace(&*home.to_string_lossy(), HOME_AS_SHOWN);
    let status: i32 = status.trim().parse().unwrap_or(-1);
    let at = format!("{name}:{}: `{}`", step.line, first_line(&step.command));
    let times: Vec<f64> = read(&out.join(format!("{number}.time")))
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    if let [started, ended] = times[..] {
        summary.timings.push((ended - started, at.clone()));
    }
    let shown = step.shown.clone().unwrap_or_default();
    let expect_failure = step.fails || shown.iter().any(|line| line.starts_with("error:"));
    if step.mode == Mode::Background {
        if out.join(format!("{number}.out.late")).exists() {
            summary.problems.push(format!(
                "{at} was started in the background and printed nothing within {} s:\n{}",
                script::BACKGROUND_WAIT_SECONDS,
                printed
            ));
            return;
        }
    } else if (status != 0) != expect_failure {
        let expected = if expect_failure {
            "a failure"
        } else {
            "success"
        };
        summary.problems.push(format!(
            "{at} exited with status {status}, where the book shows {expected}; it printed:\n{printed}"
        ));
        return;
    }
    let Some(shown) = &step.shown else { return };
    let printed = if step.mode == Mode::Background {
        printed
            .lines()
            .take(shown.len())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        printed
    };
    match compare::mismatch(shown, &printed, &step.varies) {
        None => summary.as_shown += 1,
        Some(why) => summary
            .problems
            .push(format!("{at} no longer prints what the book shows: {why}")),
    }
}

/// A command as a problem names it: its first line, `…` if it has more.
fn first_line(command: &str) -> String {
    match command.split_once('\n') {
        Some((first, _)) => format!("{first} …"),
        None => command.to_string(),
    }
}

/// A capture file's text; a missing file (a step never reached) reads as empty.
fn read(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks one small chapter, unsandboxed, in a scratch copy of this suite.
    fn try_run(chapter: &str) -> Result<Summary, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chapter.md");
        fs::write(&path, chapter).unwrap();
        let suite = crate::labs::labs_dir().parent().unwrap().to_path_buf();
        let setup = Setup {
            target: suite.join("target"),
            suite,
            sandboxed: false,
        };
        check(&path, &setup)
    }

    /// Runs one small chapter that the checker can read.
    fn run(chapter: &str) -> Summary {
        try_run(chapter).unwrap()
    }

    #[test]
    fn commands_share_a_shell_and_their_output_is_compared() {
        let summary = run(
            "```console\n$ cd labs && greeting=hi\n$ echo \"$greeting from $(basename $PWD)\"\n\
             hi from labs\n$ false\n$ echo $?\n1\n```\n\
             <!-- book-check: skip (needs a second terminal) -->\n```sh\nsleep 600\n```\n",
        );
        assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
        assert!(summary.problems[0].contains("`false` exited with status 1"));
        assert_eq!(
            summary.line(),
            "book: 4 commands run, 3 as shown, 1 skipped"
        );
    }

    #[test]
    fn a_changed_output_is_reported_with_both_versions() {
        let summary = run("```console\n$ printf 'one\\ntwo\\n'\none\nthree\n```\n");
        assert_eq!(summary.as_shown, 0);
        let problem = &summary.problems[0];
        assert!(problem.contains("chapter.md:2"), "{problem}");
        assert!(problem.contains("line 2 differs"), "{problem}");
    }

    #[test]
    fn placeholders_under_a_varies_marker_stop_the_check_before_anything_runs() {
        let chapter =
            "<!-- book-check: varies numbers -->\n```console\n$ cat grades.csv\nalice,N,N\n```\n";
        let err = try_run(chapter).unwrap_err();
        assert!(
            err.contains("chapter.md:3") && err.contains("Numbers"),
            "{err}"
        );
    }

    #[test]
    fn a_background_command_is_awaited_and_stopped_at_the_end() {
        let summary = run("<!-- book-check: background -->\n```console\n\
             $ echo ready; sleep 600\nready\n```\n```console\n$ echo after\nafter\n```\n");
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        assert_eq!(summary.as_shown, 2);
    }
}
