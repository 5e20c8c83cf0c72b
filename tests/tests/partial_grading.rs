//! Grading what was handed in: `--client` alone grades the client's checks
//! and nothing else, `--server` alone the server's, and the maximum is that
//! part's. Run with the real labkit binary on our own lab 02 programs, which
//! `just test` builds first next to it (Rust programs start fast even on a
//! busy machine, so the test measures the grader, not the load).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use labkit::grade::{Part, rubric};

/// The ids and total points of lab 02's checks that grade `part`.
fn expected(part: Part) -> (BTreeSet<String>, u64) {
    let lab = labkit::labs::find("02").expect("lab 02 exists");
    let checks: Vec<_> = rubric(&lab)
        .into_iter()
        .filter(|check| part.grades(check.role))
        .collect();
    (
        checks.iter().map(|check| check.id.to_string()).collect(),
        checks.iter().map(|check| u64::from(check.points)).sum(),
    )
}

/// Runs `labkit grade 02` with `args`, returning its stdout.
fn grade(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_labkit"))
        .args(["grade", "02"])
        .args(args)
        .output()
        .expect("labkit runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "a correct part scores full marks:\n{stdout}"
    );
    stdout
}

/// Our own lab 02 `program` (server or client), as a command.
fn ours(program: &str) -> String {
    let labkit = Path::new(env!("CARGO_BIN_EXE_labkit"));
    labkit
        .with_file_name(format!("lab02-{program}"))
        .display()
        .to_string()
}

#[test]
fn a_client_handed_in_alone_is_graded_on_the_clients_checks_only() {
    let json = grade(&["--client", &ours("client"), "--format", "json"]);
    let results: serde_json::Value = serde_json::from_str(&json).expect("results.json is JSON");
    let (ids, points) = expected(Part::Client);
    assert!(!ids.is_empty() && ids.iter().all(|id| id.starts_with("client-")));
    let graded: BTreeSet<String> = results["tests"]
        .as_array()
        .expect("a list of tests")
        .iter()
        .map(|test| {
            test["name"]
                .as_str()
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(graded, ids);
    assert_eq!(results["max_score"], points);
    assert_eq!(results["score"], points);
    assert!(
        results["output"]
            .as_str()
            .is_some_and(|text| text.contains("client only"))
    );
}

#[test]
fn a_server_handed_in_alone_is_graded_on_the_servers_checks_only() {
    let text = grade(&["--server", &ours("server")]);
    let (ids, points) = expected(Part::Server);
    let graded: BTreeSet<String> = text
        .lines()
        .filter(|line| line.starts_with("PASS") || line.starts_with("FAIL"))
        .filter_map(|line| line.split_whitespace().nth(2).map(str::to_string))
        .collect();
    assert_eq!(graded, ids);
    assert!(text.starts_with("graded: the server only"), "{text}");
    assert!(
        text.contains(&format!("lab 02 (server only): {points}/{points} points")),
        "{text}"
    );
}
