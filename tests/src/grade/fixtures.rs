//! Proof that the grader catches bugs: deliberately broken programs, each of
//! which must lose exactly the points for its bug and keep the rest.
//! `just check-fixtures` (part of `just ci`) runs them, one lab after another:
//! they wait on purpose for replies that never come, so they are kept out of
//! the quick `just test`.
//!
//! `tests/fixtures/labNN/fixtures.json` lists them: a name, the server and/or
//! client command (the other side is ours), and the checks it must fail.
//! `{fixtures}` in a command is the fixtures folder, `{labs}` the labs
//! folder (whose Python versions are written from the chapters); `{bin}` is where our
//! binaries are, so a fixture can also be one of our own programs run the
//! wrong way (lab 01's server graded as lab 02's, say).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;

use serde::Deserialize;

use super::{Part, Subject, grade_checks, report};
use crate::labs::{self, Lab};

/// How many fixtures of one lab are graded at the same time (labs take
/// turns): enough for a lab's fixtures to wait out their timeouts together,
/// few enough that their Python interpreters can start on two cores.
const FIXTURES_AT_ONCE: usize = 8;

/// How long a fixture's server may take to start: the suite's tests grade
/// many programs at once, and a Python interpreter starting on a busy
/// 2-core machine can take seconds. (A real grade allows 5 s.)
pub const FIXTURE_STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One deliberately broken (or, with no losses, correct) implementation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// What it is, for the report.
    pub name: String,
    /// Its server command, if it replaces ours.
    #[serde(default)]
    pub server: Option<String>,
    /// Its client command, if it replaces ours.
    #[serde(default)]
    pub client: Option<String>,
    /// The checks it must fail, and no others.
    pub loses: Vec<String>,
}

impl Fixture {
    /// The programs to grade, ours standing in for the side the fixture does
    /// not replace, and the part it hands in: a fixture that replaces one
    /// side only is graded on that side's checks, as a student's would be.
    pub fn subject(&self, reference: &Subject, bin_dir: &Path) -> (Subject, Part) {
        let expand = |command: &str| {
            command
                .replace("{fixtures}", &fixtures_dir().to_string_lossy())
                .replace("{bin}", &bin_dir.to_string_lossy())
                .replace("{labs}", &labs::labs_dir().to_string_lossy())
        };
        let subject = Subject {
            server: self
                .server
                .as_deref()
                .map_or(reference.server.clone(), expand),
            client: self
                .client
                .as_deref()
                .map_or(reference.client.clone(), expand),
        };
        let part = Part::handed_in(self.server.is_some(), self.client.is_some());
        (subject, part)
    }
}

/// The fixtures of `lab`, from `tests/fixtures/labNN/fixtures.json`.
pub fn load(lab: &Lab) -> Result<Vec<Fixture>, String> {
    let list = fixtures_dir()
        .join(format!("lab{}", lab.number))
        .join("fixtures.json");
    let text = std::fs::read_to_string(&list)
        .map_err(|err| format!("cannot read {}: {err}", list.display()))?;
    serde_json::from_str(&text)
        .map_err(|err| format!("{} is not a valid fixture list: {err}", list.display()))
}

/// `tests/fixtures` in this workspace.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Grades every fixture of `lab` (a few at a time) with our binaries in
/// `bin_dir`; returns how many there were, or the reports of those that did
/// not lose exactly their listed checks.
pub fn check_fixtures(lab: &Lab, bin_dir: &Path) -> Result<usize, String> {
    let fixtures = load(lab)?;
    let lab = lab.clone();
    let reference = Subject::reference(&lab, bin_dir);
    let check_one = |fixture: &Fixture| {
        let (subject, part) = fixture.subject(&reference, bin_dir);
        let outcomes = grade_checks(
            &lab,
            &subject,
            &reference,
            FIXTURE_STARTUP_TIMEOUT,
            |check| part.grades(check.role),
        );
        let lost: BTreeSet<String> = outcomes
            .iter()
            .filter(|outcome| !outcome.passed())
            .map(|outcome| outcome.id.to_string())
            .collect();
        let expected: BTreeSet<String> = fixture.loses.iter().cloned().collect();
        (lost == expected).then_some(()).ok_or_else(|| {
            format!(
                "fixture '{}' should lose {expected:?} but lost {lost:?}:\n{}",
                fixture.name,
                report::text(&lab.number, part, &outcomes, &|id: &str| id.to_string())
            )
        })
    };
    let mut problems = Vec::new();
    for batch in fixtures.chunks(FIXTURES_AT_ONCE) {
        thread::scope(|scope| {
            let runs: Vec<_> = batch
                .iter()
                .map(|fixture| scope.spawn(|| check_one(fixture)))
                .collect();
            for run in runs {
                if let Err(problem) = run.join().expect("a fixture run panicked") {
                    problems.push(problem);
                }
            }
        });
    }
    if problems.is_empty() {
        Ok(fixtures.len())
    } else {
        Err(problems.join("\n\n"))
    }
}
