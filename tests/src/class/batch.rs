//! `labkit grade-class`: every student of a folder, graded in parallel.
//!
//! A few workers take students from a shared list until it is empty, each
//! grading one submission at a time in its own scratch folder and sandbox.
//! A grade mostly waits (for replies, for time limits), so even on two cores
//! several at once finish sooner than one after another. The progress line
//! is `indicatif`'s, drawn only when stderr is a terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use shared::Failure;

use super::{Grading, Isolation, Programs, Report, grade_submission, gradebook, sandbox};
use crate::labs::Lab;

/// What `labkit grade-class` takes.
#[derive(clap::Args)]
pub struct ClassArgs {
    /// The lab: 1, 01, or its name (hello)
    lab: String,
    /// The class: one subfolder per student, named after the student
    dir: PathBuf,
    /// How to run each student's programs
    #[command(flatten)]
    programs: Programs,
    /// How many students to grade at once (default: the number of cores)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Where the gradebook goes (default: DIR/../grades-NN)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Grade only the students who have no result in OUT yet
    #[arg(long)]
    only_missing: bool,
    /// Run the students' programs without a sandbox (each report says so)
    #[arg(long)]
    no_sandbox: bool,
}

/// One student of the class.
struct Student {
    /// The folder's name, as it appears in the gradebook.
    name: String,
    /// The folder.
    folder: PathBuf,
}

/// How one student's grade went, for the summary.
struct Graded {
    /// The student.
    name: String,
    /// How long their grade took, sandbox and all.
    seconds: f64,
    /// A line for the summary when the grade has notes or failed to be
    /// stored.
    problem: Option<String>,
}

/// Grades the class as `args` says, with `labkit` (this program) inside
/// each sandbox; prints the summary. Fails only when a student could not be
/// given a result, or the input is unusable.
pub fn run(args: ClassArgs, labkit: &Path) -> Result<(), Failure> {
    let (lab, checks) = super::graded_lab(&args.lab)?;
    args.programs.check_given()?;
    let dir = args.dir.canonicalize().map_err(|err| {
        Failure::io(
            format_args!("open the class folder {}", args.dir.display()),
            &err,
        )
        .hint("give the folder that holds one subfolder per student")
    })?;
    if !dir.is_dir() {
        return Err(
            Failure::new(format!("{} is not a folder", args.dir.display()))
                .hint("give the folder that holds one subfolder per student (unpack a zip first)"),
        );
    }
    let out = match &args.out {
        Some(out) => std::path::absolute(out)
            .map_err(|err| Failure::io(format_args!("find {}", out.display()), &err))?,
        None => dir
            .parent()
            .unwrap_or(&dir)
            .join(format!("grades-{}", lab.number)),
    };
    let students = list_students(&dir, &out)?;
    if students.is_empty() {
        return Err(
            Failure::new(format!("{} holds no student folders", dir.display()))
                .hint("put each student's submission in its own subfolder, named after them"),
        );
    }
    if args.no_sandbox {
        eprintln!(
            "warning: grading without a sandbox: the students' programs run as you, with your files and network"
        );
    } else {
        sandbox::check_available()
            .map_err(|why| Failure::new(why).hint(sandbox::install_hint("with --no-sandbox")))?;
    }
    // Made only now that the grade will run: a refused one leaves nothing.
    std::fs::create_dir_all(&out)
        .map_err(|err| Failure::io(format_args!("create {}", out.display()), &err))?;
    let programs = &args.programs;
    let to_grade: Vec<&Student> = students
        .iter()
        .filter(|student| {
            !args.only_missing || gradebook::read_student(&out, &student.name).is_none()
        })
        .collect();
    // Warming up costs one build: worth it from two crates on.
    let warm = if programs.is_crate && to_grade.len() > 1 {
        eprintln!(
            "building lab {}'s starter once, so each student's build starts warm...",
            lab.number
        );
        super::crates::warm_up(&lab)
            .inspect_err(|why| eprintln!("warning: {why}; every crate builds from cold"))
            .ok()
    } else {
        None
    };
    let warm_target = warm.as_ref().map(|dir| dir.path().join("target"));
    let grading = Grading {
        lab: &lab,
        programs,
        labkit,
        isolation: if args.no_sandbox {
            Isolation::Unsandboxed
        } else {
            Isolation::Sandbox
        },
        warm_target: warm_target.as_deref(),
    };
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        usize::from,
    );
    let started = Instant::now();
    let graded = grade_all(&grading, &to_grade, &out, jobs);
    let wall = started.elapsed().as_secs_f64();
    let results: BTreeMap<String, Vec<super::CheckScore>> = students
        .iter()
        .filter_map(|student| {
            gradebook::read_student(&out, &student.name)
                .map(|checks| (student.name.clone(), checks))
        })
        .collect();
    let ids: Vec<String> = checks.iter().map(|check| check.id.to_string()).collect();
    let csv_path = out.join("grades.csv");
    gradebook::write_whole(&csv_path, &gradebook::csv(&ids, &results)).map_err(Failure::new)?;
    print_summary(&lab, &graded, &results, wall, jobs, &csv_path)?;
    let missing = students.len() - results.len();
    if missing == 0 {
        Ok(())
    } else {
        Err(Failure::new(format!("{missing} student(s) have no result"))
            .hint("the lines above say why; run again with --only-missing to grade just them"))
    }
}

/// The student folders in `dir` (hidden ones and the gradebook `out`, when
/// it is inside, left out), by name.
fn list_students(dir: &Path, out: &Path) -> Result<Vec<Student>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| Failure::io(format_args!("list {}", dir.display()), &err))?;
    // An `out` not made yet cannot be among the folders.
    let out = out.canonicalize().ok();
    let is_out = |folder: &Path| {
        out.as_ref()
            .is_some_and(|out| folder.canonicalize().is_ok_and(|folder| &folder == out))
    };
    let mut students = Vec::new();
    for entry in entries.flatten() {
        let folder = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !folder.is_dir() || is_out(&folder) {
            continue;
        }
        students.push(Student { name, folder });
    }
    students.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(students)
}

/// Grades `students`, `jobs` at a time, storing each result in `out` as
/// soon as it is known.
fn grade_all(grading: &Grading, students: &[&Student], out: &Path, jobs: usize) -> Vec<Graded> {
    let bar = ProgressBar::new(students.len() as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "grading lab {prefix} [{bar:30}] {pos}/{len} students, {elapsed} {msg}",
    ) {
        bar.set_style(style.progress_chars("#>."));
    }
    bar.set_prefix(grading.lab.number.clone());
    let next = AtomicUsize::new(0);
    let graded = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(students.len()) {
            scope.spawn(|| {
                while let Some(student) = students.get(next.fetch_add(1, Ordering::Relaxed)) {
                    bar.set_message(student.name.clone());
                    let result = grade_one(grading, student, out);
                    bar.inc(1);
                    if let Ok(mut graded) = graded.lock() {
                        graded.push(result);
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    graded.into_inner().unwrap_or_default()
}

/// Grades one student in a scratch folder of their own and stores the result.
fn grade_one(grading: &Grading, student: &Student, out: &Path) -> Graded {
    let started = Instant::now();
    let report = match tempfile::Builder::new().prefix("labkit-class-").tempdir() {
        Ok(scratch) => grade_submission(grading, &student.folder, scratch.path()),
        Err(err) => Report::zeros(grading.lab, &format!("cannot make a scratch folder: {err}")),
    };
    // The summary's one line: the first note that points at a problem (the
    // notes come in blocks at the top of the report, a blank line apart).
    let note = report
        .text
        .lines()
        .take_while(|line| {
            line.is_empty() || line.starts_with("note: ") || line.starts_with("not graded: ")
        })
        .find(|line| {
            !line.is_empty() && !line.contains("not sandboxed") && !line.contains("built the crate")
        });
    let problem = match gradebook::write_student(out, &student.name, &report) {
        Err(why) => Some(why),
        Ok(()) => note.map(str::to_string),
    };
    Graded {
        name: student.name.clone(),
        seconds: started.elapsed().as_secs_f64(),
        problem,
    }
}

/// The median of `values` (0 when there are none).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Prints what the run did, the score distribution and the checks most
/// often failed.
fn print_summary(
    lab: &Lab,
    graded: &[Graded],
    results: &BTreeMap<String, Vec<super::CheckScore>>,
    wall: f64,
    jobs: usize,
    csv_path: &Path,
) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let mut seconds: Vec<f64> = graded.iter().map(|graded| graded.seconds).collect();
    writeln!(
        stdout,
        "graded {} student(s) of lab {} in {wall:.1} s, {} at a time (median {:.1} s per student)",
        graded.len(),
        lab.number,
        jobs.min(graded.len().max(1)),
        median(&mut seconds)
    )?;
    let mut problems: Vec<&Graded> = graded.iter().filter(|g| g.problem.is_some()).collect();
    problems.sort_by(|a, b| a.name.cmp(&b.name));
    for graded in problems {
        writeln!(
            stdout,
            "  {}: {}",
            graded.name,
            graded.problem.as_deref().unwrap_or_default()
        )?;
    }
    let percents: Vec<f64> = results
        .values()
        .map(|checks| {
            let (earned, possible) = checks.iter().fold((0, 0), |(e, p), check| {
                (e + check.score, p + check.max_score)
            });
            if possible == 0 {
                100.0
            } else {
                100.0 * f64::from(earned) / f64::from(possible)
            }
        })
        .collect();
    writeln!(stdout, "\nscores of all {} student(s):", results.len())?;
    write!(stdout, "{}", gradebook::histogram(&percents))?;
    let failed = gradebook::most_failed(results, 5);
    if !failed.is_empty() {
        writeln!(stdout, "\nchecks most often failed:")?;
        for (id, count) in failed {
            writeln!(stdout, "  {id:<26} failed by {count} of {}", results.len())?;
        }
    }
    writeln!(stdout, "\nwrote {}", csv_path.display())?;
    Ok(())
}
