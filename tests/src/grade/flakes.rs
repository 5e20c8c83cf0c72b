//! Proof that a grade does not depend on luck: every correct program (each
//! lab's reference, and each fixture that must lose nothing) is graded again
//! and again while spinning threads keep every core busy, and every grade
//! must be full marks. `just check-flakes N` runs it; `just ci` with a small N.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::fixtures::{self, FIXTURE_STARTUP_TIMEOUT};
use super::session::STARTUP_TIMEOUT;
use super::{Part, Subject, grade_checks, report};
use crate::labs::Lab;

/// One correct program to grade over and over.
struct Correct {
    /// What it is, for the summary.
    name: String,
    subject: Subject,
    part: Part,
    /// How long its servers may take to start: ours get a real grade's
    /// limit, interpreted fixtures the fixture runner's.
    startup: Duration,
}

/// How one correct program fared over its runs.
pub struct Tally {
    /// The lab.
    pub lab: String,
    /// The program.
    pub name: String,
    /// Grades run.
    pub runs: usize,
    /// Grades at full marks.
    pub full: usize,
    /// The report of the first grade that was not, if any.
    pub first_miss: Option<String>,
    /// How long all its runs took.
    pub seconds: f64,
}

impl Tally {
    /// `lab 04 reference: 100/100 at 100 %`.
    pub fn summary(&self) -> String {
        format!(
            "lab {} {}: {}/{} at 100 % ({:.0} s)",
            self.lab, self.name, self.full, self.runs, self.seconds
        )
    }
}

/// Keeps every core busy until dropped, so the grades run on a machine as
/// loaded as a student's laptop compiling something, or a shared grader.
pub struct BusyCores {
    stop: Arc<AtomicBool>,
    spinners: Vec<thread::JoinHandle<()>>,
}

impl BusyCores {
    /// Starts one spinning thread per core.
    pub fn start() -> BusyCores {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = thread::available_parallelism().map_or(2, usize::from);
        let spinners = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = black_box(
                                x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                            );
                        }
                    }
                })
            })
            .collect();
        BusyCores { stop, spinners }
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for spinner in self.spinners.drain(..) {
            let _ = spinner.join();
        }
    }
}

/// The correct programs of `lab`: our reference, and each fixture listed as
/// losing nothing.
fn correct_programs(lab: &Lab, bin_dir: &Path) -> Result<Vec<Correct>, String> {
    let reference = Subject::reference(lab, bin_dir);
    let mut correct = vec![Correct {
        name: "reference".to_string(),
        subject: reference.clone(),
        part: Part::Whole,
        startup: STARTUP_TIMEOUT,
    }];
    let has_fixtures = fixtures::fixtures_dir()
        .join(format!("lab{}", lab.number))
        .is_dir();
    if has_fixtures {
        for fixture in fixtures::load(lab)? {
            if fixture.loses.is_empty() {
                let (subject, part) = fixture.subject(&reference, bin_dir);
                correct.push(Correct {
                    name: format!("'{}'", fixture.name),
                    subject,
                    part,
                    startup: FIXTURE_STARTUP_TIMEOUT,
                });
            }
        }
    }
    Ok(correct)
}

/// Grades each correct program of `lab` `runs` times, `at_once` grades at a
/// time, and returns a tally per program. The caller keeps the cores busy.
pub fn check_flakes(
    lab: &Lab,
    bin_dir: &Path,
    runs: usize,
    at_once: usize,
) -> Result<Vec<Tally>, String> {
    let reference = Subject::reference(lab, bin_dir);
    let mut tallies = Vec::new();
    for correct in correct_programs(lab, bin_dir)? {
        let started = Instant::now();
        let next = AtomicUsize::new(0);
        let full = AtomicUsize::new(0);
        let first_miss = std::sync::Mutex::new(None);
        thread::scope(|scope| {
            for _ in 0..at_once.max(1) {
                scope.spawn(|| {
                    while next.fetch_add(1, Ordering::Relaxed) < runs {
                        let outcomes = grade_checks(
                            lab,
                            &correct.subject,
                            &reference,
                            correct.startup,
                            |check| correct.part.grades(check.role),
                        );
                        let (earned, possible) = report::totals(&outcomes);
                        let all_passed = outcomes.iter().all(|outcome| outcome.passed());
                        if earned == possible && all_passed {
                            full.fetch_add(1, Ordering::Relaxed);
                        } else if let Ok(mut miss) = first_miss.lock() {
                            miss.get_or_insert_with(|| {
                                report::text(&lab.number, correct.part, &outcomes, &|id: &str| {
                                    id.to_string()
                                })
                            });
                        }
                    }
                });
            }
        });
        tallies.push(Tally {
            lab: lab.number.clone(),
            name: correct.name,
            runs,
            full: full.into_inner(),
            first_miss: first_miss.into_inner().unwrap_or_default(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(tallies)
}
