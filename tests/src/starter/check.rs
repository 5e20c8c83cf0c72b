//! The check run in CI: every starter builds without a warning and scores
//! at most 10 % of its lab's points, and every reference scores full marks.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::grade::{self, Subject};
use crate::labs::{self, Lab};

use super::{generate, has_regions, sync};

/// The most an untouched starter may score, in percent of the rubric's
/// points: the points go to what the lab asks students to write, so a
/// starter that scores more is handing out part of the lesson solved.
pub const STARTER_LIMIT_PERCENT: u32 = 10;

/// Runs `cargo ARGS` in `dir`; on failure, says what cargo printed.
fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("cargo")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = printed.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    Err(format!(
        "`cargo {}` failed:\n    {}",
        args.join(" "),
        tail.join("\n    ")
    ))
}

/// Generates `lab`'s starter into `dir` and checks it with cargo: formatted,
/// no clippy warning (its unit tests included), and built into `target`.
fn build_starter(lab: &Lab, suite: &Path, dir: &Path, target: &Path) -> Result<(), String> {
    let starter = generate(lab, suite)?;
    sync(&starter, dir)?;
    let target = target.to_string_lossy();
    cargo(dir, &["fmt", "--all", "--check"])?;
    cargo(
        dir,
        &[
            "clippy",
            "--quiet",
            "--all-targets",
            "--target-dir",
            &target,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Only the lab's own package: a starter that brings an earlier, finished
    // lab (lab 06 brings lab 05) must not put that lab's finished binaries
    // into the target folder all starters share, over its starter's.
    cargo(
        dir,
        &[
            "build",
            "--quiet",
            "-p",
            &starter.package,
            "--target-dir",
            &target,
        ],
    )
}

/// Grades the starter whose binaries are in `starter_bins` and the reference in
/// `reference_bins`; returns a summary, or what went wrong.
fn grade_starter(lab: &Lab, starter_bins: &Path, reference_bins: &Path) -> Result<String, String> {
    let reference = Subject::reference(lab, reference_bins);
    let starter = Subject::reference(lab, starter_bins);
    let checks = grade::rubric(lab);
    if checks.is_empty() {
        // No rubric yet: the demo is the next best judge. The reference's
        // must run to the end, the starter's must not.
        let quiet: crate::process::Tee = Arc::new(|_: &str| {});
        crate::demo::run(lab, reference_bins, Arc::clone(&quiet))
            .map_err(|err| format!("the reference's demo fails: {err}"))?;
        return match crate::demo::run(lab, starter_bins, quiet) {
            Ok(()) => Err("no rubric yet, and the starter's demo runs to the end: \
                 its TODOs are not on the demo's path"
                .to_string()),
            Err(_) => {
                Ok("no rubric yet: the starter's demo fails, the reference's runs".to_string())
            }
        };
    }
    // Both grades at once: a grade waits mostly on timeouts, not on the CPU.
    let timed = |subject: &Subject| {
        let timer = Instant::now();
        let outcomes = grade::grade(
            lab,
            subject,
            &reference,
            grade::Part::Whole,
            None,
            grade::session::STARTUP_TIMEOUT,
        );
        (outcomes, timer.elapsed().as_secs_f64())
    };
    let ((ours, reference_seconds), (outcomes, starter_seconds)) = thread::scope(|scope| {
        let reference_run = scope.spawn(|| timed(&reference));
        let starter_run = timed(&starter);
        reference_run
            .join()
            .map(|reference_run| (reference_run, starter_run))
            .map_err(|_| "grading the reference panicked".to_string())
    })?;
    let (earned, possible) = grade::report::totals(&ours);
    if earned < possible {
        return Err(format!(
            "the reference scores {earned}/{possible}, not full marks:\n{}",
            grade::report::text(&lab.number, grade::Part::Whole, &ours, &|id: &str| format!(
                "just grade {} --only {id}",
                lab.number
            ))
        ));
    }
    let (earned, possible) = grade::report::totals(&outcomes);
    let lost: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| !outcome.passed())
        .map(|outcome| outcome.id)
        .collect();
    if earned * 100 > possible * STARTER_LIMIT_PERCENT {
        let kept: Vec<&str> = outcomes
            .iter()
            .filter(|outcome| outcome.passed() && outcome.points > 0)
            .map(|outcome| outcome.id)
            .collect();
        return Err(format!(
            "the starter scores {earned}/{possible}, more than {STARTER_LIMIT_PERCENT}%: it \
             passes {}, so a TODO no longer stands in the way of what those checks test, or \
             they test only code the starter hands out",
            kept.join(", ")
        ));
    }
    Ok(format!(
        "starter {earned}/{possible} ({:.0}%) in {starter_seconds:.1} s (loses {}); \
         reference {possible}/{possible} in {reference_seconds:.1} s",
        100.0 * f64::from(earned) / f64::from(possible.max(1)),
        lost.join(", ")
    ))
}

/// For every lab with regions: generates its starter, checks that it is
/// formatted and builds without a warning, then grades it (it may score at
/// most [`STARTER_LIMIT_PERCENT`]) and the reference (full marks).
///
/// The starters are written to `target/starter-crates/` and share one target
/// folder, `target/starters`; the grades run at the same time. `say` gets a
/// line per lab as it finishes.
pub fn check_all(
    suite: &Path,
    reference_bins: &Path,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    let started = Instant::now();
    let chosen: Vec<Lab> = labs::all()
        .into_iter()
        .filter(|lab| has_regions(lab, suite))
        .collect();
    if chosen.is_empty() {
        return Err("no lab has a `// STARTER:` region".to_string());
    }
    // Each starter's sources stay in the same folder from one run to the
    // next, and all of them build into one target folder: their dependencies
    // compile once, and an unchanged starter is not compiled again.
    let crates = suite.join("target").join("starter-crates");
    let target = suite.join("target").join("starters");
    let starter_bins = target.join("debug");
    let mut problems = Vec::new();
    let mut built = Vec::new();
    for lab in chosen {
        let building = Instant::now();
        let dir = crates.join(lab.folder());
        match build_starter(&lab, suite, &dir, &target) {
            Ok(()) => {
                say(&format!(
                    "lab {}: starter generated and built in {:.1} s",
                    lab.number,
                    building.elapsed().as_secs_f64()
                ));
                built.push(lab);
            }
            Err(err) => problems.push(format!("lab {}: {err}", lab.number)),
        }
    }
    let grading = Instant::now();
    thread::scope(|scope| {
        let runs: Vec<_> = built
            .iter()
            .map(|lab| {
                let starter_bins = &starter_bins;
                scope.spawn(move || (lab, grade_starter(lab, starter_bins, reference_bins)))
            })
            .collect();
        for run in runs {
            match run.join() {
                Ok((lab, Ok(summary))) => say(&format!("lab {}: {summary}", lab.number)),
                Ok((lab, Err(err))) => problems.push(format!("lab {}: {err}", lab.number)),
                Err(_) => problems.push("a grading thread panicked".to_string()),
            }
        }
    });
    say(&format!(
        "graded in {:.1} s; {:.1} s in all",
        grading.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
