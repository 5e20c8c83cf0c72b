//! Marked regions: finding `// STARTER:` … `// STARTER_END` in a source file
//! and putting a TODO in their place, with the rules a region must keep.

/// Opens a region; the rest of the line is what the student should write.
pub(super) const BEGIN: &str = "// STARTER:";
/// Closes a region.
const END: &str = "// STARTER_END";
/// The labs' rustfmt line width (the suite's `rustfmt.toml`, which starters
/// get too): a longer `todo!(…)` goes on three lines, as rustfmt would put
/// it, so that a starter is already formatted.
const MAX_WIDTH: usize = 90;
/// What a starter's `lib.rs` gets after its `//!` docs.
///
/// A removed region leaves behind the imports, parameters and private helpers
/// only it used, and `todo!()` does not count as using them: without this,
/// every starter would open with a screen of warnings about code the student
/// has not written yet. Only these four lints are allowed, not the whole
/// `unused` group, which also holds `unused_must_use`, the lint that catches
/// an ignored `write()` result.
const ALLOW_UNFINISHED: &str = "\
// Starter only: until your TODOs are done, some imports, parameters and helpers
// are not used yet. Delete these lines when you are done, and the compiler will
// point at anything you really left unused.
#![allow(unused_imports, unused_variables, unused_mut, dead_code)]";

/// A source file with its marked regions replaced.
#[derive(Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The new text.
    pub text: String,
    /// Each region's TODO: the line of its `// TODO:` in `text` (from 1), and
    /// what to write.
    pub todos: Vec<(usize, String)>,
}

/// One marker line.
enum Marker<'a> {
    Begin(&'a str),
    End,
    /// Starts like a marker but is neither: most likely a typo.
    Unknown,
}

fn marker(trimmed: &str) -> Option<Marker<'_>> {
    if trimmed == END {
        Some(Marker::End)
    } else if let Some(text) = trimmed.strip_prefix(BEGIN) {
        Some(Marker::Begin(text.trim()))
    } else {
        trimmed.starts_with("// STARTER").then_some(Marker::Unknown)
    }
}

/// Replaces each marked region of one Rust file with a `// TODO:` and a
/// `todo!()` at the indentation of its `STARTER` line, and drops the book's
/// `// ANCHOR` lines, which mean nothing in a starter.
///
/// Errors name the line (from 1) and say how to fix the markers.
pub fn replace_regions(source: &str) -> Result<Replaced, String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut todos = Vec::new();
    // The open region: its STARTER line's number, indentation and text.
    let mut open: Option<(usize, &str, &str)> = None;
    // The open ANCHOR regions: name and line.
    let mut anchors: Vec<(&str, usize)> = Vec::new();
    // An ANCHOR line was just dropped, so a blank line may now follow another.
    let mut dropped = false;
    for (index, &line) in lines.iter().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some(found) = marker(trimmed) {
            if let Some((name, at)) = anchors.last() {
                return Err(format!(
                    "line {number}: a STARTER marker inside the ANCHOR region '{name}' (line {at}) \
                     would show in the book; move the marker just outside that region"
                ));
            }
            match (found, open) {
                (Marker::Unknown, _) => {
                    return Err(format!(
                        "line {number}: {trimmed:?} is not a marker; \
                         use `{BEGIN} <what to write>` and `{END}`"
                    ));
                }
                (Marker::Begin(_), Some((at, ..))) => {
                    return Err(format!(
                        "line {number}: a STARTER inside the region opened at line {at}; \
                         regions do not nest"
                    ));
                }
                (Marker::Begin(""), None) => {
                    return Err(format!("line {number}: say what to write after `{BEGIN}`"));
                }
                (Marker::Begin(text), None) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    open = Some((number, indent, text));
                }
                (Marker::End, None) => {
                    return Err(format!("line {number}: {END} without a STARTER above it"));
                }
                (Marker::End, Some((at, indent, text))) => {
                    ends_its_block(&lines[index + 1..], at, number)?;
                    todos.push((out.len() + 1, text.to_string()));
                    out.extend(todo_lines(indent, text));
                    open = None;
                }
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("// ANCHOR:") {
            anchors.push((name.trim(), number));
            dropped = true;
        } else if let Some(name) = trimmed.strip_prefix("// ANCHOR_END:") {
            anchors.retain(|(open_name, _)| *open_name != name.trim());
            dropped = true;
        } else if open.is_none() {
            let doubled_blank =
                trimmed.is_empty() && out.last().is_some_and(|last| last.trim().is_empty());
            if !(dropped && doubled_blank) {
                out.push(line.to_string());
            }
            dropped = false;
        }
    }
    if let Some((at, ..)) = open {
        return Err(format!("line {at}: this STARTER has no {END}"));
    }
    let mut text = out.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    Ok(Replaced { text, todos })
}

/// A region must be the end of its block: the next line of code closes it.
fn ends_its_block(after: &[&str], begin: usize, end: usize) -> Result<(), String> {
    let next = after
        .iter()
        .map(|line| line.trim())
        .find(|line| !line.is_empty() && !line.starts_with("//"));
    match next {
        Some(line) if line.starts_with('}') => Ok(()),
        _ => Err(format!(
            "lines {begin}-{end}: a STARTER region must end its block (its todo!() takes the \
             place of the block's value), but code follows it; move {END} down to the block's end"
        )),
    }
}

/// `// TODO: text` and `todo!("text")`, at `indent`.
fn todo_lines(indent: &str, text: &str) -> Vec<String> {
    // todo!() takes a format string: braces must be doubled to stay braces.
    let literal = format!("{:?}", text.replace('{', "{{").replace('}', "}}"));
    let mut lines = vec![format!("{indent}// TODO: {text}")];
    let one_line = format!("{indent}todo!({literal})");
    if one_line.chars().count() <= MAX_WIDTH {
        lines.push(one_line);
    } else {
        lines.push(format!("{indent}todo!("));
        lines.push(format!("{indent}    {literal}"));
        lines.push(format!("{indent})"));
    }
    lines
}

/// Puts [`ALLOW_UNFINISHED`] after the `//!` docs that open `lib_rs`.
pub(super) fn allow_unfinished(lib_rs: &str) -> String {
    let lines: Vec<&str> = lib_rs.lines().collect();
    let docs = lines
        .iter()
        .take_while(|line| line.starts_with("//!"))
        .count();
    let mut out: Vec<&str> = lines[..docs].to_vec();
    if docs > 0 {
        out.push("");
    }
    out.extend(ALLOW_UNFINISHED.lines());
    if lines.get(docs).is_some_and(|line| !line.trim().is_empty()) {
        out.push("");
    }
    out.extend(&lines[docs..]);
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
//! A module.

/// Answers.
pub fn answer(x: u32) -> u32 {
    let y = x;
    // STARTER: add one, {carefully}
    // ANCHOR: add
    y + 1
    // ANCHOR_END: add
    // STARTER_END
}

impl Thing {
    fn deep(&self) {
        if true {
            // STARTER: say \"hi\"
            println!(\"hi\");
            // STARTER_END
        }
    }
}
";

    #[test]
    fn a_region_becomes_a_todo_at_its_indentation() {
        let replaced = replace_regions(SOURCE).unwrap();
        assert_eq!(
            replaced.text,
            "\
//! A module.

/// Answers.
pub fn answer(x: u32) -> u32 {
    let y = x;
    // TODO: add one, {carefully}
    todo!(\"add one, {{carefully}}\")
}

impl Thing {
    fn deep(&self) {
        if true {
            // TODO: say \"hi\"
            todo!(\"say \\\"hi\\\"\")
        }
    }
}
"
        );
        assert_eq!(
            replaced.todos,
            [
                (6, "add one, {carefully}".to_string()),
                (13, "say \"hi\"".to_string())
            ]
        );
    }

    #[test]
    fn a_file_without_markers_loses_only_its_anchor_lines() {
        let source =
            "fn a() {\n    let x = 1;\n\n    // ANCHOR: b\n\n    b(x);\n    // ANCHOR_END: b\n}\n";
        let replaced = replace_regions(source).unwrap();
        assert_eq!(replaced.text, "fn a() {\n    let x = 1;\n\n    b(x);\n}\n");
        assert!(replaced.todos.is_empty());
    }

    #[test]
    fn a_long_todo_is_split_as_rustfmt_would() {
        let text = "x".repeat(90);
        let lines = todo_lines("        ", &text);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[1], "        todo!(");
        assert_eq!(lines[2], format!("            \"{text}\""));
        assert_eq!(lines[3], "        )");
        assert_eq!(todo_lines("", "short").len(), 2);
        // 94 columns on one line: over the labs' rustfmt width (rustfmt.toml).
        assert_eq!(todo_lines("    ", &"x".repeat(80)).len(), 4);
    }

    #[test]
    fn unbalanced_or_misplaced_markers_are_refused_with_their_line() {
        let cases = [
            (
                "fn a() {\n    // STARTER: x\n    1\n}\n",
                "line 2: this STARTER has no",
            ),
            (
                "fn a() {\n    1\n    // STARTER_END\n}\n",
                "line 3: // STARTER_END without",
            ),
            (
                "fn a() {\n// STARTER: x\n// STARTER: y\n// STARTER_END\n}\n",
                "line 3: a STARTER inside the region opened at line 2",
            ),
            (
                "fn a() {\n    // STARTER:\n    1\n    // STARTER_END\n}\n",
                "line 2: say what to write",
            ),
            (
                "fn a() {\n    // STARTER x\n}\n",
                "line 2: \"// STARTER x\" is not a marker",
            ),
            (
                "fn a() {\n    // STARTER: x\n    b();\n    // STARTER_END\n    c();\n}\n",
                "lines 2-4: a STARTER region must end its block",
            ),
            (
                "fn a() {\n    // ANCHOR: a\n    // STARTER: x\n    1\n    // STARTER_END\n    // ANCHOR_END: a\n}\n",
                "line 3: a STARTER marker inside the ANCHOR region 'a' (line 2)",
            ),
            (
                "fn a() {\n    // STARTER: x\n    // ANCHOR: a\n    1\n    // STARTER_END\n    // ANCHOR_END: a\n}\n",
                "line 5: a STARTER marker inside the ANCHOR region 'a' (line 3)",
            ),
        ];
        for (source, expected) in cases {
            let err = replace_regions(source).unwrap_err();
            assert!(err.starts_with(expected), "{source:?}: {err}");
        }
    }

    #[test]
    fn the_allow_goes_after_the_crate_docs() {
        let lib = "//! Lab 99.\n//!\n//! More.\n\npub mod a;\n";
        let allowed = allow_unfinished(lib);
        assert!(
            allowed.starts_with("//! Lab 99.\n//!\n//! More.\n\n// Starter only:"),
            "{allowed}"
        );
        assert!(
            allowed.ends_with(
                "#![allow(unused_imports, unused_variables, unused_mut, dead_code)]\n\npub mod a;\n"
            ),
            "{allowed}"
        );
        assert!(allow_unfinished("pub mod a;\n").starts_with("// Starter only:"));
    }
}
