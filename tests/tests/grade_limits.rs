//! No grade can hang: whatever the programs do, `labkit grade` finishes with
//! a full report well within a minute. Each lab is graded, with the real
//! labkit binary, against programs that do nothing useful in the ways that
//! used to hold a grader: a client that fails at once, a server that never
//! prints its listening line, and one that prints it and then never answers.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The promise: a whole grade, however bad the programs, within this time.
const LIMIT: Duration = Duration::from_secs(60);

/// A client that fails at once, without connecting anywhere.
const FAILING_CLIENT: &str = "sh -c 'echo error: x >&2; exit 1'";

/// Grades `lab` with `server` and `client`; returns the time it took and
/// the report.
fn grade(lab: &str, server: &str, client: &str) -> (Duration, String) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_labkit"))
        .args(["grade", lab, "--server", server, "--client", client])
        .output()
        .expect("labkit runs");
    assert!(
        !output.status.success(),
        "lab {lab}: a useless program passed"
    );
    (
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn every_grade_of_programs_that_hang_or_fail_finishes_with_a_full_report() {
    let mute = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/limits/mute_server.py");
    let mute = format!("python3 {}", mute.display());
    let servers = [
        ("sh -c 'sleep 3600'", "a server that never prints"),
        (mute.as_str(), "a server that never answers"),
    ];
    let grades: Vec<_> = labkit::labs::all()
        .into_iter()
        .filter(|lab| !labkit::grade::rubric(lab).is_empty())
        .flat_map(|lab| servers.map(|(server, what)| (lab.clone(), server.to_string(), what)))
        .map(|(lab, server, what)| {
            thread::spawn(move || {
                let (took, report) = grade(&lab.number, &server, FAILING_CLIENT);
                (lab, what, took, report)
            })
        })
        .collect();
    for run in grades {
        let (lab, what, took, report) = run.join().expect("the grade ran");
        assert!(
            took < LIMIT,
            "lab {} with {what}: the grade took {took:?}\n{report}",
            lab.number
        );
        let checks = labkit::grade::rubric(&lab).len();
        let reported = report
            .lines()
            .filter(|line| line.starts_with("PASS") || line.starts_with("FAIL"))
            .count();
        assert_eq!(
            reported, checks,
            "lab {} with {what}: every check must be reported\n{report}",
            lab.number
        );
        assert!(
            report.contains(&format!("lab {}: ", lab.number)),
            "lab {} with {what}: the report has its total\n{report}",
            lab.number
        );
    }
}

/// A server that takes 6 s to print its listening line fails the 5 s
/// default, and passes everything once `--startup-timeout` allows for it:
/// how an instructor grades Python submissions on a slow, busy machine.
#[test]
fn startup_timeout_gives_a_slow_starting_server_its_time() {
    let reference = Path::new(env!("CARGO_BIN_EXE_labkit")).with_file_name("lab01-server");
    let slow = format!(
        "sh -c 'sleep 6; exec \"$0\" \"$@\"' {}",
        reference.display()
    );
    let grade = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_labkit"))
            .args(["grade", "01", "--server", &slow])
            .args(extra)
            .output()
            .expect("labkit runs")
    };
    let strict = grade(&[]);
    let report = String::from_utf8_lossy(&strict.stdout);
    assert!(
        !strict.status.success(),
        "a 6 s start passed the 5 s limit:\n{report}"
    );
    assert!(
        report.contains("FAIL") && report.contains("5 s"),
        "the report says the server missed the 5 s limit:\n{report}"
    );
    let patient = grade(&["--startup-timeout", "15"]);
    let report = String::from_utf8_lossy(&patient.stdout);
    assert!(
        patient.status.success(),
        "with 15 s allowed, the slow server passes:\n{report}"
    );
}
