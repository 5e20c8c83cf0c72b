//! Checks that the book's code listings point at real code.
//!
//! The book never pastes code: it includes named regions of the labs' source
//! (`{{#include ../../labs/01-hello/src/server.rs:accept}}`), marked in the
//! source by `// ANCHOR: accept` … `// ANCHOR_END: accept`. mdBook only warns
//! when an anchor is missing and quietly includes nothing, so this check turns
//! such a slip into a failing test.

use std::fs;
use std::path::{Path, PathBuf};

/// One `{{#include …}}` that does not resolve.
#[derive(Debug, PartialEq, Eq)]
pub struct BrokenInclude {
    /// The Markdown file that has the include.
    pub chapter: PathBuf,
    /// What is wrong, in a sentence.
    pub problem: String,
}

/// Checks every chapter under `book_src`; an empty list means all is well.
pub fn check_includes(book_src: &Path) -> Result<Vec<BrokenInclude>, String> {
    let mut broken = Vec::new();
    for chapter in markdown_files(book_src)? {
        let text = fs::read_to_string(&chapter)
            .map_err(|err| format!("cannot read {}: {err}", chapter.display()))?;
        let dir = chapter.parent().unwrap_or(book_src);
        for target in include_targets(&text) {
            if let Some(problem) = check_one(dir, target) {
                broken.push(BrokenInclude {
                    chapter: chapter.clone(),
                    problem,
                });
            }
        }
    }
    Ok(broken)
}

/// Checks every Markdown link between chapters (`[x](ch02-loops.md#timeouts)`
/// or `[x](#timeouts)`): the chapter must exist, and so must a heading whose
/// anchor is the part after `#`. mdBook would render a dead link silently.
pub fn check_links(book_src: &Path) -> Result<Vec<BrokenInclude>, String> {
    let mut broken = Vec::new();
    for chapter in markdown_files(book_src)? {
        let text = fs::read_to_string(&chapter)
            .map_err(|err| format!("cannot read {}: {err}", chapter.display()))?;
        let dir = chapter.parent().unwrap_or(book_src);
        for target in link_targets(&text) {
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                chapter.clone()
            } else {
                dir.join(file)
            };
            let problem = match fs::read_to_string(&linked) {
                Err(_) => Some(format!("links to {file}, which does not exist")),
                Ok(_) if anchor.is_empty() => None,
                Ok(linked_text) => (!heading_anchors(&linked_text).iter().any(|a| a == anchor))
                    .then(|| {
                        format!("links to {target}, but no heading there has the anchor #{anchor}")
                    }),
            };
            if let Some(problem) = problem {
                broken.push(BrokenInclude {
                    chapter: chapter.clone(),
                    problem,
                });
            }
        }
    }
    Ok(broken)
}

/// The most lines a page of the book may have: past that, a chapter stops
/// reading as one sitting, and what goes further belongs on a page of its own.
pub const MAX_PAGE_LINES: usize = 800;

/// Every page of the book longer than [`MAX_PAGE_LINES`].
pub fn check_lengths(book_src: &Path) -> Result<Vec<BrokenInclude>, String> {
    let mut long = Vec::new();
    for chapter in markdown_files(book_src)? {
        let text = fs::read_to_string(&chapter)
            .map_err(|err| format!("cannot read {}: {err}", chapter.display()))?;
        let lines = text.lines().count();
        if lines > MAX_PAGE_LINES {
            long.push(BrokenInclude {
                chapter,
                problem: format!(
                    "has {lines} lines, more than the {MAX_PAGE_LINES} a page may have: trim it, \
                     or move what goes further to its own page (see ch02-going-further.md)"
                ),
            });
        }
    }
    Ok(long)
}

/// The targets of the links in `text` that stay inside the book: `file.md`,
/// `file.md#anchor` or `#anchor` (not `http…`, and not inside code blocks).
fn link_targets(text: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            let target = &after[..end];
            let local = !target.contains("://") && !target.starts_with("mailto:");
            if local && (target.starts_with('#') || target.contains(".md")) {
                targets.push(target);
            }
            rest = &after[end..];
        }
    }
    targets
}

/// The anchors mdBook gives the headings of a chapter: lower case, spaces as
/// `-`, and only letters, digits, `-` and `_` kept.
pub fn heading_anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut anchors = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            let title = line.trim_start_matches('#').trim();
            let anchor: String = title
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .flat_map(char::to_lowercase)
                .collect();
            anchors.push(anchor);
        }
    }
    anchors
}

/// The `path[:anchor]` part of every include directive in `text`.
pub fn include_targets(text: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let directive = after[..end].trim();
        for keyword in ["include ", "rustdoc_include "] {
            if let Some(target) = directive.strip_prefix(keyword) {
                targets.push(target.trim());
            }
        }
        rest = &after[end..];
    }
    targets
}

fn check_one(dir: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once(':') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = dir.join(path);
    let Ok(source) = fs::read_to_string(&file) else {
        return Some(format!("includes {path}, which does not exist"));
    };
    let anchor = anchor?;
    if anchor.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Some(format!(
            "includes {target} by line number; use a named ANCHOR so the text follows the code"
        ));
    }
    let has_marker = |marker: &str| {
        source.lines().any(|line| {
            line.trim_start()
                .strip_prefix("//")
                .or_else(|| line.trim_start().strip_prefix('#'))
                .map(str::trim)
                .is_some_and(|comment| comment == format!("{marker}: {anchor}"))
        })
    };
    if !has_marker("ANCHOR") || !has_marker("ANCHOR_END") {
        return Some(format!(
            "includes anchor '{anchor}' of {path}, which has no `ANCHOR: {anchor}` … `ANCHOR_END: {anchor}` pair"
        ));
    }
    None
}

/// Every Markdown file under `dir`, in a stable order.
pub(crate) fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|err| err.to_string())?.path();
        if path.is_dir() {
            files.extend(markdown_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page one line over the limit is named; one at the limit is not.
    #[test]
    fn a_page_over_800_lines_is_named() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        fs::write(dir.path().join("ok.md"), "line\n".repeat(MAX_PAGE_LINES)).unwrap();
        fs::write(
            dir.path().join("long.md"),
            "line\n".repeat(MAX_PAGE_LINES + 1),
        )
        .unwrap();
        let long = check_lengths(dir.path()).expect("the pages are read");
        assert_eq!(long.len(), 1, "{long:?}");
        assert!(long[0].chapter.ends_with("long.md"));
        assert!(long[0].problem.contains("801 lines"), "{}", long[0].problem);
    }

    #[test]
    fn include_directives_are_found_with_and_without_anchors() {
        let text = "a {{#include ../x.rs:accept}} b {{#rustdoc_include y.rs}} {{#title T}}";
        assert_eq!(include_targets(text), vec!["../x.rs:accept", "y.rs"]);
    }

    #[test]
    fn headings_get_mdbooks_anchors() {
        let text = "# Lab 02\n## `listen(5)` is a queue, not a limit\n```sh\n# not a heading\n```\n\
                    ### Opening a connection: the three-way handshake\n";
        assert_eq!(
            heading_anchors(text),
            vec![
                "lab-02",
                "listen5-is-a-queue-not-a-limit",
                "opening-a-connection-the-three-way-handshake"
            ]
        );
        let links = "[a](sockets.md#tcp) [b](#here) [c](https://x.org/a.md) `[d](no.md)`\n";
        assert_eq!(
            link_targets(links),
            vec!["sockets.md#tcp", "#here", "no.md"]
        );
    }

    #[test]
    fn a_missing_anchor_or_file_or_a_line_number_is_reported() {
        let dir = std::env::temp_dir().join(format!("labkit-book-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("code.rs"),
            "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n",
        )
        .unwrap();
        assert_eq!(check_one(&dir, "code.rs:here"), None);
        assert!(check_one(&dir, "code.rs:gone").unwrap().contains("'gone'"));
        assert!(
            check_one(&dir, "nothing.rs")
                .unwrap()
                .contains("does not exist")
        );
        assert!(
            check_one(&dir, "code.rs:2:3")
                .unwrap()
                .contains("line number")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
