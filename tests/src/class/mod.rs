//! Grading a whole class: many submissions, each in a sandbox, into a gradebook.
//!
//! `just grade-class NN DIR` grades every subfolder of `DIR` as one student's
//! submission; `just autograder NN ZIP` packs the same grading for Gradescope.
//! Both grade one submission the same way ([`grade_submission`]):
//!
//! 1. copy the student's folder into a scratch folder, so the commands run
//!    there and whatever the programs write stays there;
//! 2. run `labkit grade-here` in that copy, inside a [`sandbox`] (when asked):
//!    the grader itself and every program it starts, so the student's
//!    programs and the grader share a private loopback;
//! 3. read back the report it prints on stdout as one JSON [`Report`], or
//!    make a report of zeros that says why there is none (a crate that does
//!    not build, a grade that crashed or ran out of time).
//!
//! - [`sandbox`]: bubblewrap and the resource limits.
//! - [`batch`]: `grade-class`: students graded in parallel, a progress line,
//!   and the summary (histogram, most-failed checks).
//! - [`gradebook`]: `grades.csv`, and each student's `.txt` and `.json`.
//! - [`crates`]: building a student's crate, from a shared warm start.
//! - [`autograder`]: the Gradescope zip and its `run_autograder`.
//! - `report`: one submission's grade, for people and for Gradescope.
//! - `scratch`: copying a submission, and running a grade with a deadline.
//!
//! The grade inside reports on stdout rather than into a file the student's
//! programs could overwrite; a student who attacks the grader process itself
//! (they share the sandbox) is out of scope, as on Gradescope.

pub mod autograder;
pub mod batch;
pub mod crates;
pub mod gradebook;
mod report;
pub mod sandbox;
mod scratch;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::grade::{self, Subject};
use crate::labs::Lab;
pub use report::{CheckScore, Report};
use scratch::run_with_deadline;
pub use scratch::{Times, copy_folder};

/// The longest a whole grade may take, sandbox and all: the grader's own
/// time limits end every check well before this, so reaching it means a
/// program or the grader is stuck, and the student gets zeros and a note.
pub const GRADE_DEADLINE: Duration = Duration::from_secs(300);

/// The longest a student's crate may take to build before grading: a cold
/// release build of a starter takes about a minute on two busy cores.
pub const BUILD_DEADLINE: Duration = Duration::from_secs(600);

/// The lab named `name` (1, 01 or hello) and its rubric's checks, or why it
/// cannot be graded.
pub fn graded_lab(name: &str) -> Result<(Lab, Vec<grade::Check>), shared::Failure> {
    let lab = crate::labs::find(name).map_err(shared::Failure::new)?;
    let checks = grade::rubric(&lab);
    if checks.is_empty() {
        return Err(
            shared::Failure::new(format!("lab {} has no rubric yet", lab.number))
                .hint("the graded labs are listed in the book's chapter for instructors"),
        );
    }
    Ok((lab, checks))
}

/// How to run one submission: the `CMD` rules of `grade-class`, the same
/// options for `grade-class`, `autograder` and `grade-here` (and stored in
/// the autograder's `autograder.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args)]
pub struct Programs {
    /// The server command, run in a scratch copy of the submission's folder
    /// (e.g. 'python3 server.py'); the contract's options are appended
    #[arg(long, value_name = "COMMAND")]
    pub server: Option<String>,
    /// The client command, run the same way (e.g. 'python3 client.py')
    #[arg(long, value_name = "COMMAND")]
    pub client: Option<String>,
    /// The submission is a Cargo crate shaped like `just starter NN`, built
    /// offline before it is graded
    #[arg(long = "crate", conflicts_with_all = ["server", "client"])]
    #[serde(rename = "crate")]
    pub is_crate: bool,
    /// Seconds a server may take to print its listening line (default 5, as
    /// in `grade`): Python starting on a busy machine can take longer
    #[arg(long = "startup-timeout", value_name = "SECONDS")]
    #[serde(default)]
    pub startup_seconds: Option<u64>,
}

impl Programs {
    /// Fails unless some program is given: grading only our own programs
    /// would grade nobody.
    pub fn check_given(&self) -> Result<(), shared::Failure> {
        if self.server.is_none() && self.client.is_none() && !self.is_crate {
            return Err(
                shared::Failure::new("nothing to grade: no --server, --client or --crate").hint(
                    "say how to run a submission's programs, e.g. --server 'python3 server.py'",
                ),
            );
        }
        Ok(())
    }

    /// The arguments of `labkit grade-here` that grade these programs of
    /// the submission in `origin`, sandboxed or not.
    fn grade_here_args(&self, lab: &Lab, origin: &Path, sandboxed: bool) -> Vec<String> {
        let mut args = vec!["grade-here".to_string(), lab.number.clone()];
        for (option, command) in [("--server", &self.server), ("--client", &self.client)] {
            if let Some(command) = command {
                args.extend([option.to_string(), command.clone()]);
            }
        }
        if self.is_crate {
            args.push("--crate".to_string());
        }
        if let Some(seconds) = self.startup_seconds {
            args.extend(["--startup-timeout".to_string(), seconds.to_string()]);
        }
        args.extend([
            "--origin".to_string(),
            origin.to_string_lossy().into_owned(),
        ]);
        if sandboxed {
            args.push("--sandboxed".to_string());
        }
        args
    }

    /// The command that runs check `id` again on the submission in `how`'s
    /// folder, as `grade` would, for the report.
    fn rerun(&self, lab: &Lab, id: &str, how: &Rerun) -> String {
        let labkit = how.bin_dir.join("labkit");
        let mut words = format!(
            "(cd {} && {} grade {} --only {id}",
            grade::shell_quote(&how.origin.to_string_lossy()),
            grade::shell_quote(&labkit.to_string_lossy()),
            lab.number
        );
        if how.sandboxed {
            words += " --sandbox";
        }
        for (option, command) in [("--server", &self.server), ("--client", &self.client)] {
            if let Some(command) = command {
                words += &format!(" {option} {}", grade::shell_quote(command));
            }
        }
        if self.is_crate {
            words += " --crate .";
        }
        words + ")"
    }

    /// Lines warning of files the commands name that `folder` lacks, such
    /// as a missing `server.py`: clearer than the traceback it would cause.
    pub fn missing_files(&self, folder: &Path) -> Vec<String> {
        if self.is_crate && !folder.join("Cargo.toml").is_file() {
            return vec!["the submission has no Cargo.toml: it is not a crate".to_string()];
        }
        let mut notes = Vec::new();
        for command in self.server.iter().chain(&self.client) {
            for word in command.split_whitespace() {
                let looks_like_file = !word.starts_with('-')
                    && !word.starts_with('/')
                    && Path::new(word).extension().is_some();
                if looks_like_file && !folder.join(word).exists() {
                    notes.push(format!(
                        "the submission has no {word} (the command '{command}' runs it)"
                    ));
                }
            }
        }
        notes
    }
}

/// Where a report's "reproduce" commands run a check again.
pub struct Rerun {
    /// The submission's own folder (the grade ran in a copy of it).
    pub origin: PathBuf,
    /// Where `labkit` and the labs' programs are.
    pub bin_dir: PathBuf,
    /// Whether the grade ran in the sandbox (so should the rerun).
    pub sandboxed: bool,
}

/// `labkit grade-here`: grades the programs in the current folder (built
/// first with `--crate`) and prints the [`Report`] as JSON on stdout. This
/// is what runs inside the sandbox.
pub fn grade_here(lab: &Lab, programs: &Programs, rerun: &Rerun) -> Result<Report, String> {
    let reference = Subject::reference(lab, &rerun.bin_dir);
    let mut subject = Subject {
        server: programs.server.clone().unwrap_or(reference.server.clone()),
        client: programs.client.clone().unwrap_or(reference.client.clone()),
    };
    let mut notes = Vec::new();
    if programs.is_crate {
        match crates::build(lab, Path::new(".")) {
            Ok((built, seconds)) => {
                subject = built;
                notes.push(format!(
                    "built the crate in {seconds:.1} s (not counted in any check's time)"
                ));
            }
            Err(why) => return Ok(Report::zeros(lab, &why)),
        }
    }
    let startup = programs
        .startup_seconds
        .map_or(grade::session::STARTUP_TIMEOUT, Duration::from_secs);
    // A crate hands in both programs; otherwise only what was given is graded.
    let part = grade::Part::handed_in(
        programs.is_crate || programs.server.is_some(),
        programs.is_crate || programs.client.is_some(),
    );
    let outcomes = grade::grade_checks(lab, &subject, &reference, startup, |check| {
        part.grades(check.role)
    });
    notes.extend(passed_nothing(lab, part, &outcomes));
    let reproduce = |id: &str| programs.rerun(lab, id, rerun);
    let gradescope = serde_json::from_str(&grade::report::gradescope(part, &outcomes, &[]))
        .map_err(|err| format!("the grader's JSON does not parse: {err}"))?;
    Ok(Report {
        text: grade::report::text(&lab.number, part, &outcomes, &reproduce),
        gradescope,
        checks: outcomes
            .iter()
            .map(|outcome| CheckScore {
                id: outcome.id.to_string(),
                score: outcome.score(),
                max_score: outcome.points,
            })
            .collect(),
    }
    .with_notes(&notes))
}

/// A note for each of the student's programs that passed none of its
/// checks, with what the first check saw: a program that never starts (a
/// syntax error, a missing module) fails every check the same way, and the
/// top of the report, Gradescope's `output` and the class summary should
/// say so once.
fn passed_nothing(lab: &Lab, part: grade::Part, outcomes: &[grade::Outcome]) -> Vec<String> {
    let rubric = grade::rubric(lab);
    let role_of = |id: &str| rubric.iter().find(|check| check.id == id).map(|c| c.role);
    [grade::Role::Server, grade::Role::Client]
        .into_iter()
        .filter(|&role| part.grades(role))
        .filter_map(|role| {
            // Checks that could not run on this machine say nothing of the program.
            let own: Vec<&grade::Outcome> = outcomes
                .iter()
                .filter(|outcome| role_of(outcome.id) == Some(role))
                .filter(|outcome| !outcome.finding.as_ref().is_some_and(|f| f.skipped))
                .collect();
            let first = own.first()?;
            let seen = &first.finding.as_ref()?.seen;
            own.iter().all(|outcome| !outcome.passed()).then(|| {
                format!(
                    "the {} passed none of its {} checks; the first ({}) saw: {seen}",
                    role.name(),
                    own.len(),
                    first.id
                )
            })
        })
        .collect()
}

/// How [`grade_submission`] runs a grade.
pub struct Grading<'a> {
    /// The lab.
    pub lab: &'a Lab,
    /// The programs to run, by the `CMD` rules.
    pub programs: &'a Programs,
    /// The `labkit` program to run inside (normally this one).
    pub labkit: &'a Path,
    /// What keeps the student's programs in.
    pub isolation: Isolation,
    /// A target folder with the lab's dependencies built ([`crates::warm_up`]),
    /// copied into each crate's scratch so only the student's code compiles.
    pub warm_target: Option<&'a Path>,
}

/// What keeps a student's programs from the rest of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Our [`sandbox`], one per grade.
    Sandbox,
    /// Nothing: `--no-sandbox`, which each report mentions.
    Unsandboxed,
    /// A container made for this one grade, such as Gradescope's.
    Container,
}

/// Grades the submission in `folder`, working in `scratch` (an empty
/// folder, removed by the caller): never fails, a broken submission or a
/// broken grade gives a [`Report`] of zeros that says why.
pub fn grade_submission(grading: &Grading, folder: &Path, scratch: &Path) -> Report {
    let Grading { lab, programs, .. } = grading;
    let mut notes = programs.missing_files(folder);
    if grading.isolation == Isolation::Unsandboxed {
        notes.insert(0, "not sandboxed (graded with --no-sandbox)".to_string());
    }
    let work = scratch.join("work");
    let warm = |()| match grading.warm_target {
        Some(target) => copy_folder(
            target,
            &scratch.join("tmp").join(crates::TARGET),
            Times::Keep,
        ),
        None => Ok(()),
    };
    let report = copy_folder(folder, &work, Times::Fresh)
        .and_then(warm)
        .and_then(|()| run_grade_here(grading, folder, scratch, &work))
        .unwrap_or_else(|why| Report::zeros(lab, &why));
    report.with_notes(&notes)
}

/// Runs `labkit grade-here` in `work`, the copy of `origin` (sandboxed or
/// not), and reads its report.
fn run_grade_here(
    grading: &Grading,
    origin: &Path,
    scratch: &Path,
    work: &Path,
) -> Result<Report, String> {
    let sandboxed = grading.isolation == Isolation::Sandbox;
    let origin = std::path::absolute(origin).unwrap_or_else(|_| origin.to_path_buf());
    let args = grading
        .programs
        .grade_here_args(grading.lab, &origin, sandboxed);
    let mut run = if sandboxed {
        let bin_dir = grading.labkit.parent().unwrap_or(grading.labkit);
        let visible = sandbox::under_tmp(&[bin_dir, &crate::labs::suite_dir()]);
        sandbox::command(scratch, work, grading.labkit, &args, &visible)?
    } else {
        // Temporary files (a crate's build among them) stay in scratch too,
        // so students graded side by side never share one.
        let private_tmp = scratch.join("tmp");
        std::fs::create_dir_all(&private_tmp)
            .map_err(|err| format!("cannot create {}: {err}", private_tmp.display()))?;
        let mut plain = Command::new(grading.labkit);
        plain
            .args(&args)
            .current_dir(work)
            .env("TMPDIR", private_tmp);
        sandbox::Sandboxed {
            command: plain,
            process_group: None,
        }
    };
    let deadline = if grading.programs.is_crate {
        GRADE_DEADLINE + BUILD_DEADLINE
    } else {
        GRADE_DEADLINE
    };
    let output = run_with_deadline(&mut run.command, deadline)?;
    serde_json::from_slice(&output.stdout).map_err(|_| {
        let errors = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = errors.lines().collect();
        format!(
            "the grade did not finish ({}); its last words:\n{}",
            output.status,
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    })
}

/// What `labkit grade-here` takes: the lab and its programs.
#[derive(clap::Args)]
pub struct GradeHereArgs {
    /// The lab: 1, 01, or its name (hello)
    lab: String,
    /// The programs, run in the current folder
    #[command(flatten)]
    programs: Programs,
    /// The submission's own folder, for the reports' rerun commands
    #[arg(long, value_name = "DIR", default_value = ".")]
    origin: PathBuf,
    /// The grade runs in the sandbox, and so should a rerun
    #[arg(long)]
    sandboxed: bool,
}

/// `labkit grade-here`: prints [`grade_here`]'s report as one JSON document.
pub fn grade_here_command(args: &GradeHereArgs, bin_dir: &Path) -> Result<(), shared::Failure> {
    let lab = crate::labs::find(&args.lab).map_err(shared::Failure::new)?;
    let rerun = Rerun {
        origin: args.origin.clone(),
        bin_dir: bin_dir.to_path_buf(),
        sandboxed: args.sandboxed,
    };
    let report = grade_here(&lab, &args.programs, &rerun).map_err(shared::Failure::new)?;
    let json = serde_json::to_string(&report)
        .map_err(|err| shared::Failure::new(format!("cannot encode the report: {err}")))?;
    let mut stdout = std::io::stdout().lock();
    std::io::Write::write_all(&mut stdout, json.as_bytes())?;
    std::io::Write::flush(&mut stdout)?;
    Ok(())
}
