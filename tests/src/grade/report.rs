//! The grade, for a person (text) and for Gradescope (`results.json`).

use serde::Serialize;

use super::{Outcome, Part};

/// Total points earned and possible.
pub fn totals(outcomes: &[Outcome]) -> (u32, u32) {
    let earned = outcomes.iter().map(Outcome::score).sum();
    let possible = outcomes.iter().map(|outcome| outcome.points).sum();
    (earned, possible)
}

/// The report a student or instructor reads: every check with its points, and
/// for each failure what was expected, what was seen, the programs' own
/// output, and the command that runs that one check again.
pub fn text(
    lab: &str,
    part: Part,
    outcomes: &[Outcome],
    reproduce: &dyn Fn(&str) -> String,
) -> String {
    let (earned, possible) = totals(outcomes);
    let mut out = String::new();
    if let Some(graded) = part.describe() {
        out.push_str(&format!("graded: {graded}\n\n"));
    }
    for outcome in outcomes {
        let mark = match &outcome.finding {
            None => "PASS",
            Some(finding) if finding.skipped => "SKIP",
            Some(_) => "FAIL",
        };
        out.push_str(&format!(
            "{mark} {:>3}/{:<3} {:<26} {}\n",
            outcome.score(),
            outcome.points,
            outcome.id,
            outcome.title
        ));
        if let Some(finding) = &outcome.finding {
            out.push_str(&format!("       expected:  {}\n", finding.expected));
            out.push_str(&format!("       seen:      {}\n", finding.seen));
            if let Some(diagnosis) = &finding.diagnosis {
                out.push_str(&format!("       diagnosis: {diagnosis}\n"));
            }
            for line in outcome.transcript.iter().take(40) {
                out.push_str(&format!("         {line}\n"));
            }
            if outcome.transcript.len() > 40 {
                out.push_str(&format!(
                    "         … {} more lines\n",
                    outcome.transcript.len() - 40
                ));
            }
            out.push_str(&format!("       reproduce: {}\n", reproduce(outcome.id)));
        }
    }
    let percent = if possible == 0 {
        100.0
    } else {
        100.0 * f64::from(earned) / f64::from(possible)
    };
    let which = match part {
        Part::Whole => "",
        Part::Server => " (server only)",
        Part::Client => " (client only)",
    };
    out.push_str(&format!(
        "\nlab {lab}{which}: {earned}/{possible} points ({percent:.0}%), {} of {} checks passed\n",
        outcomes.iter().filter(|outcome| outcome.passed()).count(),
        outcomes.len()
    ));
    out
}

/// The rubric of a lab as a Markdown table, for the book's chapter for
/// instructors (generated, so the book cannot disagree with the grader).
pub fn rubric_table(checks: &[super::Check]) -> String {
    let mut out = String::from(
        "| check | grades | points | what it checks, and why it matters |\n|---|---|---|---|\n",
    );
    for check in checks {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            check.id,
            check.role.name(),
            check.points,
            check.title.replace('|', "\\|")
        ));
    }
    let total: u32 = checks.iter().map(|check| check.points).sum();
    out.push_str(&format!("| **total** | | **{total}** | |\n"));
    out
}

/// Gradescope's autograder `results.json`.
#[derive(Serialize)]
struct Results<'a> {
    score: u32,
    max_score: u32,
    /// Shown above the tests: which part was graded, when not the whole lab.
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    tests: Vec<TestResult<'a>>,
}

#[derive(Serialize)]
struct TestResult<'a> {
    name: String,
    score: u32,
    max_score: u32,
    output: String,
    visibility: &'a str,
}

/// `results.json` for Gradescope; checks named in `hidden` are shown to
/// students only after the due date.
pub fn gradescope(part: Part, outcomes: &[Outcome], hidden: &[String]) -> String {
    let (earned, possible) = totals(outcomes);
    let results = Results {
        score: earned,
        max_score: possible,
        output: part.describe().map(|graded| format!("graded: {graded}")),
        tests: outcomes
            .iter()
            .map(|outcome| TestResult {
                name: format!("{}: {}", outcome.id, outcome.title),
                score: outcome.score(),
                max_score: outcome.points,
                output: match &outcome.finding {
                    None => "passed".to_string(),
                    Some(finding) => {
                        let mut lines = vec![
                            format!("expected: {}", finding.expected),
                            format!("seen: {}", finding.seen),
                        ];
                        lines.extend(finding.diagnosis.iter().map(|d| format!("diagnosis: {d}")));
                        if finding.skipped {
                            lines.insert(0, "skipped on this machine: no points".to_string());
                        }
                        lines.extend(outcome.transcript.iter().take(40).cloned());
                        lines.join("\n")
                    }
                },
                visibility: if hidden.iter().any(|id| id == outcome.id) {
                    "after_due_date"
                } else {
                    "visible"
                },
            })
            .collect(),
    };
    serde_json::to_string_pretty(&results).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}
