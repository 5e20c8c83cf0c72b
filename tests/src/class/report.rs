//! One submission's grade, as `grade-here` prints it and the gradebook
//! keeps it: the text report, Gradescope's JSON, and each check's points.

use serde::{Deserialize, Serialize};

use crate::grade;
use crate::labs::Lab;

/// One check's points in a [`Report`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckScore {
    /// The check's id.
    pub id: String,
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
}

/// One submission's grade: what `grade-here` prints, and what the gradebook
/// stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The text report a person reads.
    pub text: String,
    /// Gradescope's `results.json`, with a top-level `output` for notes.
    pub gradescope: serde_json::Value,
    /// Each check's points, in rubric order.
    pub checks: Vec<CheckScore>,
}

impl Report {
    /// Points earned and possible.
    pub fn totals(&self) -> (u32, u32) {
        self.checks
            .iter()
            .fold((0, 0), |(earned, possible), check| {
                (earned + check.score, possible + check.max_score)
            })
    }

    /// A report of zeros for every check of `lab`, saying `why` there is no
    /// grade (a crate that does not build, a grade that ran out of time).
    pub fn zeros(lab: &Lab, why: &str) -> Report {
        let rubric = grade::rubric(lab);
        let checks: Vec<CheckScore> = rubric
            .iter()
            .map(|check| CheckScore {
                id: check.id.to_string(),
                score: 0,
                max_score: check.points,
            })
            .collect();
        let possible: u32 = checks.iter().map(|check| check.max_score).sum();
        let tests: Vec<serde_json::Value> = rubric
            .iter()
            .map(|check| {
                serde_json::json!({
                    "name": format!("{}: {}", check.id, check.title),
                    "score": 0,
                    "max_score": check.points,
                    "output": format!("not graded: {why}"),
                    "visibility": "visible",
                })
            })
            .collect();
        Report {
            text: format!(
                "not graded: {why}\n\nlab {}: 0/{possible} points (0%), 0 of {} checks passed\n",
                lab.number,
                checks.len()
            ),
            gradescope: serde_json::json!({
                "score": 0,
                "max_score": possible,
                "output": format!("not graded: {why}"),
                "tests": tests,
            }),
            checks,
        }
    }

    /// Puts `notes` at the top of both reports (Gradescope shows the
    /// top-level `output` above the checks).
    pub fn with_notes(mut self, notes: &[String]) -> Report {
        if notes.is_empty() {
            return self;
        }
        let block: String = notes.iter().map(|note| format!("note: {note}\n")).collect();
        // Notes added later join the block already at the top.
        let gap = if self.text.starts_with("note: ") {
            ""
        } else {
            "\n"
        };
        self.text = format!("{block}{gap}{}", self.text);
        if let Some(results) = self.gradescope.as_object_mut() {
            let before = results
                .get("output")
                .and_then(|output| output.as_str())
                .map(|output| format!("\n{output}"))
                .unwrap_or_default();
            results.insert(
                "output".into(),
                format!("{}{before}", block.trim_end()).into(),
            );
        }
        self
    }
}
