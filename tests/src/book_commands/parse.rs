//! Reads a chapter's Markdown into the shell steps a reader would type.
//!
//! A reader sees commands in two shapes, and the checker reads both:
//!
//! - a ` ```sh ` block is a script: the checker runs the whole block as one
//!   command, and compares nothing (its output, if any, is discussed in prose);
//! - a ` ```console ` or ` ```text ` block holds `$ command` lines, each
//!   followed by the output the command prints, up to the next `$` line.
//!
//! What a reader must do by hand (start a server in a second terminal, press
//! Ctrl-C) is told to the checker in an HTML comment right before the block,
//! which mdBook does not render: `<!-- book-check: background -->`. The
//! markers are listed on [`Marker`].

/// What the checker does with one command of the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Runs it and waits for it to finish, as a reader would.
    Run,
    /// Starts it and goes on once it printed its first line (a server's
    /// `listening on`); its shown lines are compared when the chapter ends:
    /// the reader's "first terminal", where a server keeps running.
    Background,
    /// Does not run it; the reason says why (a second terminal, Ctrl-C, minutes).
    Skip(String),
}

/// Which parts of a command's output change from run to run, beyond the ports,
/// times and temporary paths that always do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Varies {
    /// Hexadecimal digests and checksums (8, 32, 40 or 64 digits) of data
    /// that changes (random bytes, the time).
    Digests,
    /// Every number.
    Numbers,
    /// The order of the lines (two programs printing at the same time).
    Order,
    /// Only the shown lines are promised: they must all appear in the output,
    /// in order, among other lines ("among the other lines, `ss` prints …").
    Among,
}

/// One marker comment: `<!-- book-check: background; varies digests -->`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// `skip (why)`: count the block's commands as skipped.
    Skip(String),
    /// `background`: start the block's command and leave it running.
    Background,
    /// `stop`: stop every program still running in the background (the
    /// reader's Ctrl-C), before the next block.
    Stop,
    /// `varies digests|numbers|order|among`.
    Varies(Varies),
    /// `fails`: the command must exit with a non-zero status even though its
    /// shown output has no `error:` line.
    Fails,
    /// `output`: this block (which has no `$` lines) is what the command
    /// before it prints, shown after some prose (a ```sh block, then the
    /// reader is told what to expect). `{{#include file}}` lines in it stand
    /// for the file's lines.
    Output,
}

/// One command of a chapter, in the order the chapter gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The line of the chapter the command is on (1-based).
    pub line: usize,
    /// The line of the code fence that opens its block: the steps of one
    /// block share the block's markers.
    pub block: usize,
    /// The shell text, as the reader would type it.
    pub command: String,
    /// The output the book shows for it; `None` when it shows none.
    pub shown: Option<Vec<String>>,
    /// Run, background or skip.
    pub mode: Mode,
    /// Stop the background programs before running this step.
    pub stop_first: bool,
    /// What may differ in the output.
    pub varies: Vec<Varies>,
    /// The command must fail (exit non-zero).
    pub fails: bool,
}

/// The start of every marker comment.
const MARKER_OPEN: &str = "<!-- book-check:";

/// Parses one marker comment's words; an unknown word is an error, so a typo
/// cannot silently turn a check off.
pub fn markers(comment: &str) -> Result<Vec<Marker>, String> {
    let inner = comment
        .trim()
        .strip_prefix(MARKER_OPEN)
        .and_then(|rest| rest.strip_suffix("-->"))
        .ok_or_else(|| format!("not a book-check comment: {comment}"))?;
    let mut found = Vec::new();
    for word in inner.split(';').map(str::trim).filter(|w| !w.is_empty()) {
        let marker = match word {
            "background" => Marker::Background,
            "stop" => Marker::Stop,
            "fails" => Marker::Fails,
            "output" => Marker::Output,
            "varies digests" => Marker::Varies(Varies::Digests),
            "varies numbers" => Marker::Varies(Varies::Numbers),
            "varies order" => Marker::Varies(Varies::Order),
            "varies among" => Marker::Varies(Varies::Among),
            _ => match word.strip_prefix("skip") {
                Some(reason) if reason.trim().starts_with('(') && reason.ends_with(')') => {
                    Marker::Skip(reason.trim().trim_matches(['(', ')']).to_string())
                }
                _ => {
                    return Err(format!(
                        "unknown book-check marker '{word}' (known: background, stop, fails, \
                         output, skip (why), varies digests|numbers|order|among)"
                    ));
                }
            },
        };
        found.push(marker);
    }
    Ok(found)
}

/// Every step of a chapter, in order.
pub fn steps(markdown: &str) -> Result<Vec<Step>, String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut steps = Vec::new();
    let mut pending: Vec<Marker> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        if trimmed.starts_with(MARKER_OPEN) {
            pending.extend(markers(trimmed).map_err(|err| format!("line {}: {err}", index + 1))?);
            index += 1;
            continue;
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            if !trimmed.is_empty() && pending.iter().any(|m| *m != Marker::Stop) {
                return Err(format!(
                    "line {}: a book-check marker must come right before a code block",
                    index + 1
                ));
            }
            index += 1;
            continue;
        };
        let fence_indent = line.len() - line.trim_start().len();
        let end = (index + 1..lines.len())
            .find(|&i| lines[i].trim() == "```")
            .ok_or_else(|| format!("line {}: a code block is never closed", index + 1))?;
        let body: Vec<(usize, &str)> = (index + 1..end)
            .map(|i| (i + 1, strip_indent(lines[i], fence_indent)))
            .collect();
        let markers = std::mem::take(&mut pending);
        if markers.contains(&Marker::Output) {
            attach_output(&mut steps, &body, markers, index + 1)?;
            index = end + 1;
            continue;
        }
        let block = match info.trim() {
            "sh" | "bash" | "shell" => script_block(&body),
            "console" | "text" => prompt_block(&body),
            _ => Vec::new(),
        };
        apply_markers(&mut steps, block, markers, index + 1)?;
        index = end + 1;
    }
    if let Some(marker) = pending.first() {
        return Err(format!(
            "a {marker:?} marker at the end of the chapter has no block after it"
        ));
    }
    Ok(steps)
}

/// Removes the indentation of a block nested in a list item.
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// A ```sh block: one script, output not compared.
fn script_block(body: &[(usize, &str)]) -> Vec<Step> {
    let text: Vec<&str> = body.iter().map(|(_, text)| *text).collect();
    if text.iter().all(|line| line.trim().is_empty()) {
        return Vec::new();
    }
    vec![step(body[0].0, text.join("\n"), None)]
}

/// A block of `$ command` lines, each followed by its output.
fn prompt_block(body: &[(usize, &str)]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for &(number, text) in body {
        if continued {
            let last = steps
                .last_mut()
                .expect("a continued line follows a command");
            last.command.push('\n');
            last.command.push_str(text);
            continued = text.ends_with('\\');
        } else if let Some(command) = text.strip_prefix("$ ") {
            steps.push(step(number, command.to_string(), Some(Vec::new())));
            continued = command.ends_with('\\');
        } else if let Some(Some(shown)) = steps.last_mut().map(|s| s.shown.as_mut()) {
            shown.push(text.to_string());
        }
    }
    steps
}

/// A step run the plain way: no marker has changed it yet.
fn step(line: usize, command: String, shown: Option<Vec<String>>) -> Step {
    Step {
        line,
        block: 0,
        command,
        shown,
        mode: Mode::Run,
        stop_first: false,
        varies: Vec::new(),
        fails: false,
    }
}

/// Makes a block the shown output of the step before it.
fn attach_output(
    steps: &mut [Step],
    body: &[(usize, &str)],
    markers: Vec<Marker>,
    fence_line: usize,
) -> Result<(), String> {
    let Some(last) = steps.last_mut() else {
        return Err(format!(
            "line {fence_line}: an output block with no command before it"
        ));
    };
    if last.shown.as_ref().is_some_and(|shown| !shown.is_empty()) {
        return Err(format!(
            "line {fence_line}: an output block for a command whose output is already shown"
        ));
    }
    last.shown = Some(body.iter().map(|(_, text)| text.to_string()).collect());
    for marker in markers {
        match marker {
            Marker::Output => {}
            Marker::Varies(varies) => last.varies.push(varies),
            Marker::Fails => last.fails = true,
            other => {
                return Err(format!(
                    "line {fence_line}: an output block takes only varies and fails markers, not {other:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Gives a block's steps what its markers say, and appends them.
fn apply_markers(
    steps: &mut Vec<Step>,
    mut block: Vec<Step>,
    markers: Vec<Marker>,
    fence_line: usize,
) -> Result<(), String> {
    if block.is_empty() {
        return match markers.iter().find(|m| **m != Marker::Stop) {
            Some(marker) => Err(format!(
                "line {fence_line}: a {marker:?} marker is on a block with no command"
            )),
            None => Ok(()),
        };
    }
    for step in &mut block {
        step.block = fence_line;
    }
    for marker in markers {
        match marker {
            Marker::Stop => block[0].stop_first = true,
            Marker::Background if block.len() > 1 => {
                return Err(format!(
                    "line {fence_line}: a background block must hold exactly one command"
                ));
            }
            Marker::Background => block[0].mode = Mode::Background,
            Marker::Skip(reason) => block
                .iter_mut()
                .for_each(|s| s.mode = Mode::Skip(reason.clone())),
            Marker::Varies(varies) => block.iter_mut().for_each(|s| s.varies.push(varies)),
            Marker::Fails => block.iter_mut().for_each(|s| s.fails = true),
            Marker::Output => {} // handled by attach_output
        }
    }
    steps.extend(block);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_lines_are_commands_and_the_lines_under_them_their_output() {
        let chapter = "Run:\n\n```console\n$ just client 01 hi\nHI\n$ echo $?\n0\n```\n";
        let steps = steps(chapter).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].line, 4);
        assert_eq!(steps[0].command, "just client 01 hi");
        assert_eq!(steps[0].shown, Some(vec!["HI".to_string()]));
        assert_eq!(steps[1].shown, Some(vec!["0".to_string()]));
    }

    #[test]
    fn a_script_block_is_one_command_whose_output_is_not_compared() {
        let chapter = "```sh\nserver=$!\nkill $server\n```\n```rust\nfn main() {}\n```\n";
        let steps = steps(chapter).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].command, "server=$!\nkill $server");
        assert_eq!(steps[0].shown, None);
    }

    #[test]
    fn markers_apply_to_the_next_block_only() {
        let chapter = "<!-- book-check: stop; background -->\n```console\n$ just server 06\n\
                       listening on 127.0.0.1:8006\n```\n\n<!-- book-check: skip (needs Ctrl-C) -->\n\
                       ```text\n$ just book\n```\n```text\n$ true\n```\n";
        let steps = steps(chapter).unwrap();
        assert_eq!(steps[0].mode, Mode::Background);
        assert!(steps[0].stop_first);
        assert_eq!(steps[1].mode, Mode::Skip("needs Ctrl-C".to_string()));
        assert_eq!(steps[2].mode, Mode::Run);
        assert!(!steps[2].stop_first);
    }

    #[test]
    fn an_output_block_belongs_to_the_script_before_it() {
        let chapter = "```sh\njust lab 01\n```\nIt prints:\n<!-- book-check: output; varies order -->\n\
                       ```text\n{{#include transcripts/lab01-demo.txt}}\n```\n";
        let steps = steps(chapter).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].shown,
            Some(vec!["{{#include transcripts/lab01-demo.txt}}".to_string()])
        );
        assert_eq!(steps[0].varies, vec![Varies::Order]);
    }

    #[test]
    fn a_misspelt_or_stray_marker_is_an_error_not_a_silent_skip() {
        assert!(steps("<!-- book-check: backgroud -->\n```sh\ntrue\n```\n").is_err());
        assert!(steps("<!-- book-check: skip -->\n```sh\ntrue\n```\n").is_err());
        assert!(steps("<!-- book-check: background -->\nSome prose.\n```sh\ntrue\n```\n").is_err());
    }

    #[test]
    fn text_blocks_without_prompts_and_included_transcripts_are_not_commands() {
        let chapter = "```text\n{{#include transcripts/lab01-demo.txt}}\n```\n";
        assert!(steps(chapter).unwrap().is_empty());
    }
}
