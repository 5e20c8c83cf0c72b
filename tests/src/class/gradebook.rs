//! The gradebook: `grades.csv`, one `STUDENT.txt` and `STUDENT.json` per
//! student, and the summary printed at the end.
//!
//! Each student's `.json` is Gradescope's `results.json`; the CSV is made
//! again from all of them after every run, so `--only-missing` adds rows to
//! the same gradebook. A result is written to a temporary name and renamed,
//! so a run stopped half-way never leaves a half-written result that
//! `--only-missing` would take for a grade.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CheckScore, Report};

/// `OUT/STUDENT.txt`.
pub fn text_path(out: &Path, student: &str) -> PathBuf {
    out.join(format!("{student}.txt"))
}

/// `OUT/STUDENT.json`.
pub fn json_path(out: &Path, student: &str) -> PathBuf {
    out.join(format!("{student}.json"))
}

/// Writes `contents` to `path` through a temporary file in the same folder,
/// so the file is either absent or complete.
pub(super) fn write_whole(path: &Path, contents: &str) -> Result<(), String> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(folder)
        .map_err(|err| format!("cannot write in {}: {err}", folder.display()))?;
    std::io::Write::write_all(&mut temporary, contents.as_bytes())
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    temporary
        .persist(path)
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(())
}

/// Stores one student's reports in `out`: the `.txt` first, the `.json` (the
/// one that counts as "graded") last.
pub fn write_student(out: &Path, student: &str, report: &Report) -> Result<(), String> {
    write_whole(&text_path(out, student), &report.text)?;
    let json = serde_json::to_string_pretty(&report.gradescope)
        .map_err(|err| format!("cannot encode {student}'s results: {err}"))?;
    write_whole(&json_path(out, student), &(json + "\n"))
}

/// The checks' points in a stored `STUDENT.json`, or `None` if there is
/// none (or it is not one of ours). A test's name is `id: title`.
pub fn read_student(out: &Path, student: &str) -> Option<Vec<CheckScore>> {
    let text = std::fs::read_to_string(json_path(out, student)).ok()?;
    let results: serde_json::Value = serde_json::from_str(&text).ok()?;
    results
        .get("tests")?
        .as_array()?
        .iter()
        .map(|test| {
            let name = test.get("name")?.as_str()?;
            Some(CheckScore {
                id: name.split(": ").next()?.to_string(),
                score: u32::try_from(test.get("score")?.as_u64()?).ok()?,
                max_score: u32::try_from(test.get("max_score")?.as_u64()?).ok()?,
            })
        })
        .collect()
}

/// One CSV field, quoted as RFC 4180 says when it holds a comma, a quote
/// or a line break (a quote inside is doubled).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// `grades.csv`: a header `student,score,max_score,` and a column per check
/// of `check_ids`, then a row per student sorted by name. Lines end in CRLF,
/// as RFC 4180 says.
pub fn csv(check_ids: &[String], students: &BTreeMap<String, Vec<CheckScore>>) -> String {
    let mut header = vec!["student".to_string(), "score".into(), "max_score".into()];
    header.extend(check_ids.iter().cloned());
    let mut lines = vec![header];
    for (student, checks) in students {
        let (score, max): (u32, u32) = checks.iter().fold((0, 0), |(s, m), check| {
            (s + check.score, m + check.max_score)
        });
        let mut row = vec![student.clone(), score.to_string(), max.to_string()];
        row.extend(check_ids.iter().map(|id| {
            checks
                .iter()
                .find(|check| &check.id == id)
                .map(|check| check.score.to_string())
                .unwrap_or_default()
        }));
        lines.push(row);
    }
    lines
        .iter()
        .map(|row| {
            let fields: Vec<String> = row.iter().map(|field| csv_field(field)).collect();
            fields.join(",") + "\r\n"
        })
        .collect()
}

/// A text histogram of the students' scores in tenths of the maximum, one
/// line per tenth from 0–9% to 90–100%.
pub fn histogram(percents: &[f64]) -> String {
    let mut counts = [0usize; 10];
    for percent in percents {
        counts[((percent / 10.0) as usize).min(9)] += 1;
    }
    let widest = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut out = String::new();
    for (tenth, count) in counts.iter().enumerate() {
        let low = tenth * 10;
        let high = if tenth == 9 { 100 } else { low + 9 };
        // At most 40 marks, so a big class still fits a terminal line.
        let marks = (count * 40).div_ceil(widest);
        out.push_str(&format!(
            "{low:>3}-{high:<3}% | {} {count}\n",
            "#".repeat(marks)
        ));
    }
    out
}

/// The checks failed by the most students, most first (ties by id), at most
/// `limit` of them, as `(id, how many failed)`.
pub fn most_failed(
    students: &BTreeMap<String, Vec<CheckScore>>,
    limit: usize,
) -> Vec<(String, usize)> {
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for check in students.values().flatten() {
        if check.score < check.max_score {
            *failures.entry(&check.id).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = failures
        .into_iter()
        .map(|(id, count)| (id.to_string(), count))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(limit);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check scores from `(id, score, max_score)` triples.
    fn scores(pairs: &[(&str, u32, u32)]) -> Vec<CheckScore> {
        pairs
            .iter()
            .map(|&(id, score, max_score)| CheckScore {
                id: id.to_string(),
                score,
                max_score,
            })
            .collect()
    }

    #[test]
    fn the_csv_quotes_commas_quotes_and_line_breaks_and_sorts_students() {
        let mut students = BTreeMap::new();
        students.insert("zoë".to_string(), scores(&[("a", 5, 5), ("b", 0, 10)]));
        students.insert("O'Brien, \"Pat\"".to_string(), scores(&[("a", 5, 5)]));
        let csv = csv(&["a".to_string(), "b".to_string()], &students);
        assert_eq!(
            csv,
            "student,score,max_score,a,b\r\n\
             \"O'Brien, \"\"Pat\"\"\",5,5,5,\r\n\
             zoë,5,15,5,0\r\n"
        );
    }

    #[test]
    fn the_histogram_puts_full_marks_in_the_top_line() {
        let text = histogram(&[100.0, 95.0, 0.0]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10);
        assert!(lines[0].starts_with("  0-9  % | "), "{text}");
        assert!(lines[0].ends_with(" 1"), "{text}");
        assert!(lines[9].starts_with(" 90-100% | "), "{text}");
        assert!(lines[9].ends_with(" 2"), "{text}");
        assert!(lines[5].ends_with("|  0"), "{text}");
    }

    #[test]
    fn most_failed_ranks_by_count_then_id() {
        let mut students = BTreeMap::new();
        students.insert("a".to_string(), scores(&[("x", 0, 5), ("y", 0, 5)]));
        students.insert("b".to_string(), scores(&[("x", 0, 5), ("y", 5, 5)]));
        students.insert("c".to_string(), scores(&[("z", 1, 5)]));
        assert_eq!(
            most_failed(&students, 2),
            [("x".to_string(), 2), ("y".to_string(), 1)]
        );
    }
}
