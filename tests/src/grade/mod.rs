//! Grading any implementation of a lab, in any language: named checks with points.
//!
//! A check drives the student's programs only through the command-line
//! contract (`--host`, `--port`, the `listening on` line) and the chapter's
//! Protocol section, over real sockets. Server checks talk to the student's
//! server with the grader's own sockets; client checks run the student's
//! client against our reference server. Every step has a timeout, every
//! check a wall-clock limit that the grader enforces from outside it, and
//! every process a check starts is stopped when the check ends. Each check
//! declares which program it grades ([`Role`]); a grade runs the checks of
//! the [`Part`] that was handed in.
//!
//! - [`session`]: what a check can do (start a server, run a client, connect).
//! - [`bounded`]: running a program to its end, bounded in time.
//! - [`contract`]: the command-line contract's checks, in every lab's rubric.
//! - [`lab01`] … [`lab07`]: each lab's rubric, one module per lab, each a
//!   list of checks in course order; [`rubric`] picks a lab's.
//! - [`wire`]: the grader's own reading and writing of lab 05's frames.
//! - [`memory`]: a server's peak memory, as Linux shows it.
//! - [`fixtures`]: broken programs that prove each check catches its bug.
//! - [`flakes`]: correct programs graded again and again on busy cores.
//! - [`report`]: the text report and Gradescope's `results.json`.

pub mod bounded;
pub mod contract;
pub mod fixtures;
pub mod flakes;
pub mod lab01;
pub mod lab02;
pub mod lab03;
pub mod lab04;
pub mod lab05;
pub mod lab06;
pub mod lab07;
pub mod memory;
pub mod report;
pub mod session;
pub mod wire;

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::labs::Lab;
pub use session::{Finding, Session};

/// One named check: what it verifies, why it matters, and how many points.
pub struct Check {
    /// A short stable name, used with `--only` and `--hide`: `echo-capitals`.
    pub id: &'static str,
    /// Points for passing.
    pub points: u32,
    /// Which of the student's programs it grades; the other side, if any,
    /// is ours.
    pub role: Role,
    /// One sentence: what is checked and why it matters.
    pub title: &'static str,
    /// The most wall-clock time the check may take, all its steps together:
    /// past it, the grader stops the check's programs and moves on.
    pub timeout: Duration,
    /// The check itself.
    pub run: fn(&mut Session) -> Result<(), Finding>,
}

/// A check's time limit unless it asks for more: every step of a check has
/// its own shorter timeout (5 s for a reply, 10 s for a client), so a check
/// reaches this only when it takes step after step slowly.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of the student's programs a check grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The student's server, talking to the grader's own sockets or to our client.
    Server,
    /// The student's client, talking to our server or to the grader playing one.
    Client,
    /// The student's server and client together.
    Both,
}

impl Role {
    /// What a check of this role grades, in a word: `server`, `client`, `both`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Both => "both",
        }
    }
}

/// Which part of a lab was handed in, and so which checks are graded: a
/// check of a program that was not handed in would only grade ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Both programs: every check, `Both` ones included.
    Whole,
    /// The server alone: its checks, out of their points only.
    Server,
    /// The client alone: its checks, out of their points only.
    Client,
}

impl Part {
    /// The part that a `--server` and/or `--client` on the command line hand
    /// in. Neither means our own programs, graded whole.
    pub fn handed_in(server: bool, client: bool) -> Part {
        match (server, client) {
            (true, false) => Part::Server,
            (false, true) => Part::Client,
            _ => Part::Whole,
        }
    }

    /// Whether a check of `role` is graded. A `Both` check needs both
    /// programs, so it is graded only when the whole lab is.
    pub fn grades(self, role: Role) -> bool {
        match self {
            Part::Whole => true,
            Part::Server => role == Role::Server,
            Part::Client => role == Role::Client,
        }
    }

    /// What was graded, for the report: `None` for the whole lab.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            Part::Whole => None,
            Part::Server => Some(
                "the server only (--server): the client's checks were not run, and the maximum is the server's",
            ),
            Part::Client => Some(
                "the client only (--client): the server's checks were not run, and the maximum is the client's",
            ),
        }
    }
}

/// The rubric of `lab`: its checks in course order, with their points. A lab
/// without a rubric yet has none.
pub fn rubric(lab: &Lab) -> Vec<Check> {
    match lab.number.as_str() {
        "01" => lab01::checks(),
        "02" => lab02::checks(),
        "03" => lab03::checks(),
        "04" => lab04::checks(),
        "05" => lab05::checks(),
        "06" => lab06::checks(),
        "07" => lab07::checks(),
        _ => Vec::new(),
    }
}

/// The option naming the folder a lab's server serves, for labs that have one:
/// every server a check starts gets a scratch folder unless the check gives it
/// its own, so grading never creates a folder where it runs.
pub fn server_folder_option(lab: &Lab) -> Option<&'static str> {
    (lab.number == "06").then_some("--root")
}

/// The programs being graded, as shell command prefixes; the contract's
/// arguments (`--host`, `--port`, …) are appended.
#[derive(Debug, Clone)]
pub struct Subject {
    /// How to start the server, such as `python3 server.py`.
    pub server: String,
    /// How to start the client.
    pub client: String,
}

impl Subject {
    /// The reference binaries of `lab`, found in `bin_dir`.
    pub fn reference(lab: &Lab, bin_dir: &Path) -> Subject {
        let quoted = |role: &str| shell_quote(&bin_dir.join(lab.binary(role)).to_string_lossy());
        Subject {
            server: quoted("server"),
            client: quoted("client"),
        }
    }
}

/// What happened to one check.
pub struct Outcome {
    /// The check's name.
    pub id: &'static str,
    /// Its sentence.
    pub title: &'static str,
    /// Points it is worth.
    pub points: u32,
    /// Why it failed, or `None` if it passed.
    pub finding: Option<Finding>,
    /// What the grader did and what the programs printed, prefixed by who.
    pub transcript: Vec<String>,
    /// How long the check took.
    pub seconds: f64,
}

impl Outcome {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.finding.is_none()
    }

    /// Points earned.
    pub fn score(&self) -> u32 {
        if self.passed() { self.points } else { 0 }
    }
}

/// Runs the checks of `lab`'s rubric that grade `part` (or only the check
/// named `only`) against `subject`, using `reference` for the other side of
/// each conversation, allowing servers `startup_timeout` to start.
///
/// The checks run at the same time, each in a thread with its own servers on
/// their own ports: a grade takes as long as its slowest check, not the sum.
pub fn grade(
    lab: &Lab,
    subject: &Subject,
    reference: &Subject,
    part: Part,
    only: Option<&str>,
    startup_timeout: Duration,
) -> Vec<Outcome> {
    grade_checks(lab, subject, reference, startup_timeout, |check| {
        part.grades(check.role) && only.is_none_or(|id| id == check.id)
    })
}

/// Runs the checks of `lab`'s rubric that `wanted` picks, allowing servers
/// `startup_timeout` to print their listening line.
///
/// Each check runs in a thread of its own, all at once, and each has its own
/// deadline: a check still running at its deadline has its programs stopped
/// and is reported as timed out, with its transcript so far. Its thread is
/// left behind; with its programs gone it ends soon, and nothing waits for it.
pub fn grade_checks(
    lab: &Lab,
    subject: &Subject,
    reference: &Subject,
    startup_timeout: Duration,
    wanted: impl Fn(&Check) -> bool,
) -> Vec<Outcome> {
    // A caller that allows slow starts (many Python servers on two busy
    // cores) allows each check that much more time too, twice: a check may
    // start a program twice (lab 06's client runs once per command).
    let patience = 2 * startup_timeout.saturating_sub(session::STARTUP_TIMEOUT);
    let started = Instant::now();
    let runs: Vec<_> = rubric(lab)
        .into_iter()
        .filter(|check| wanted(check))
        .map(|check| {
            let mut session = Session::new(subject.clone(), reference.clone())
                .with_startup_timeout(startup_timeout);
            if let Some(option) = server_folder_option(lab) {
                session = session.with_server_folder(option);
            }
            let cancel = session.cancel_handle();
            let (sender, receiver) = mpsc::channel();
            let (id, title, points, limit) = (
                check.id,
                check.title,
                check.points,
                check.timeout + patience,
            );
            thread::spawn(move || {
                let _ = sender.send(run_check(&check, session));
            });
            (id, title, points, limit, cancel, receiver)
        })
        .collect();
    runs.into_iter()
        .map(|(id, title, points, limit, cancel, receiver)| {
            let left = (started + limit).saturating_duration_since(Instant::now());
            let unfinished = |finding: Finding, transcript: Vec<String>| Outcome {
                id,
                title,
                points,
                finding: Some(finding),
                transcript,
                seconds: started.elapsed().as_secs_f64(),
            };
            match receiver.recv_timeout(left) {
                Ok(outcome) => outcome,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let transcript = cancel.cancel();
                    unfinished(
                        Finding::new(
                            format!("the check finishes within {} s", limit.as_secs()),
                            format!("timed out after {} s", limit.as_secs()),
                        )
                        .diagnosis(
                            "the programs were stopped; the transcript shows how far the check got",
                        ),
                        transcript,
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => unfinished(
                    Finding::new("the check runs", "the grader itself failed (a panic)"),
                    cancel.cancel(),
                ),
            }
        })
        .collect()
}

/// Runs one check in its session and says how it went.
fn run_check(check: &Check, session: Session) -> Outcome {
    let started = Instant::now();
    let mut session = session;
    let result = (check.run)(&mut session);
    let transcript = session.finish();
    Outcome {
        id: check.id,
        title: check.title,
        points: check.points,
        finding: result.err(),
        transcript,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Grades our own programs for `lab` and fails with the report unless every
/// check passes: the same checks, run as part of `cargo test`.
pub fn assert_reference_scores_full_marks(lab_number: &str, bin_dir: &Path) {
    let lab = crate::labs::find(lab_number).expect("the lab exists");
    let reference = Subject::reference(&lab, bin_dir);
    assert_scores_full_marks(lab_number, &reference, &reference);
}

/// Grades `subject` for `lab` (with `reference` on the other side of each
/// conversation) and fails with the report unless every check passes.
pub fn assert_scores_full_marks(lab_number: &str, subject: &Subject, reference: &Subject) {
    let lab = crate::labs::find(lab_number).expect("the lab exists");
    let outcomes = grade(
        &lab,
        subject,
        reference,
        Part::Whole,
        None,
        session::STARTUP_TIMEOUT,
    );
    assert!(!outcomes.is_empty(), "lab {lab_number} has a rubric");
    let (earned, possible) = report::totals(&outcomes);
    // Every check, not only the points: a check worth 0 points (the
    // contract's, or one that tests given code) must pass too.
    assert!(
        earned == possible && outcomes.iter().all(Outcome::passed),
        "{}",
        report::text(&lab.number, Part::Whole, &outcomes, &|id: &str| format!(
            "just grade {lab_number} --only {id}"
        ))
    );
}

/// Quotes `word` for `sh` when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where the book keeps the generated rubric table of `lab`.
pub fn rubric_table_path(lab: &Lab) -> std::path::PathBuf {
    crate::labs::labs_dir()
        .parent()
        .expect("labs/ is inside the workspace")
        .join("book/src/rubrics")
        .join(format!("lab{}.md", lab.number))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's rubric tables are generated; this fails when one is stale.
    #[test]
    fn the_books_rubric_tables_match_the_grader() {
        for lab in crate::labs::all() {
            let checks = rubric(&lab);
            if checks.is_empty() {
                continue;
            }
            let path = rubric_table_path(&lab);
            let stored = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                stored,
                report::rubric_table(&checks),
                "{} is out of date: run `just transcripts`",
                path.display()
            );
        }
    }
}
