//! Checks the code blocks as the rendered book shows them, not as the
//! Markdown spells them.
//!
//! A listing is a region cut from a lab's source, often from inside a
//! function: mdBook keeps its indentation, and the book's preprocessor
//! (`book/listings`, run by `book.toml`) moves it back to the margin. Only the
//! built pages show whether that happened, so this check reads them
//! (`book/build/*.html`, from `mdbook build book`) and matches each page's
//! code blocks, in order, with the fenced blocks of its chapter, to name the
//! chapter's line and the file and anchor the listing comes from.

use std::fs;
use std::path::{Path, PathBuf};

use crate::book::{BrokenInclude, include_targets, markdown_files};

/// One code block of a chapter: where the Markdown has it, and what the
/// rendered page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The chapter's Markdown file.
    pub chapter: PathBuf,
    /// The line of its opening fence (1-based).
    pub line: usize,
    /// The first word of the fence's info string (`rust` for ` ```rust,ignore `).
    pub language: String,
    /// The `path:anchor` of every `{{#include}}` in the block.
    pub includes: Vec<String>,
    /// The block's text on the rendered page, tags removed and entities decoded.
    pub rendered: String,
}

impl Listing {
    /// How a problem names the listing: the chapter's line, and what it includes.
    fn name(&self) -> String {
        let mut name = format!("line {}", self.line);
        if !self.includes.is_empty() {
            name.push_str(&format!(" ({})", self.includes.join(", ")));
        }
        name
    }
}

/// Every code block of every chapter under `book_src` that has a page in
/// `html_dir`, with what the page shows.
pub fn listings(book_src: &Path, html_dir: &Path) -> Result<Vec<Listing>, String> {
    if !html_dir.is_dir() {
        return Err(format!(
            "{} does not exist: build the book first (mdbook build book)",
            html_dir.display()
        ));
    }
    let mut all = Vec::new();
    for chapter in markdown_files(book_src)? {
        let relative = chapter.strip_prefix(book_src).unwrap_or(&chapter);
        let page = html_dir.join(relative).with_extension("html");
        let Ok(html) = fs::read_to_string(&page) else {
            continue; // not in SUMMARY.md: a file other chapters include
        };
        let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
        if modified(&chapter) > modified(&page) {
            return Err(format!(
                "{} is older than its chapter {}: build the book again (mdbook build book)",
                page.display(),
                chapter.display()
            ));
        }
        let markdown = fs::read_to_string(&chapter)
            .map_err(|err| format!("cannot read {}: {err}", chapter.display()))?;
        let blocks = fenced_blocks(&markdown);
        let shown = code_blocks(&html);
        if blocks.len() != shown.len() {
            return Err(format!(
                "{} has {} code blocks but its page {} shows {}: cannot tell which is which",
                chapter.display(),
                blocks.len(),
                page.display(),
                shown.len()
            ));
        }
        for ((line, language, includes), rendered) in blocks.into_iter().zip(shown) {
            all.push(Listing {
                chapter: chapter.clone(),
                line,
                language,
                includes,
                rendered,
            });
        }
    }
    Ok(all)
}

/// The blocks that show a program's output: their spaces are what it printed
/// (a diagram, a right-aligned number), so `book/listings` leaves them be.
pub const TRANSCRIPTS: [&str; 2] = ["console", "text"];

/// The widest line of code the book shows: a line of code does not wrap (a
/// wrapped line reads as two), so a longer one hides its end behind a scroll
/// bar. The workspace's `rustfmt.toml` formats the labs to this width.
pub const MAX_COLUMNS: usize = 90;

/// What is wrong with the rendered code blocks: a listing of code shifted
/// right as a whole (every line starts with a space), or a line of code
/// wider than [`MAX_COLUMNS`].
pub fn check(book_src: &Path, html_dir: &Path) -> Result<Vec<BrokenInclude>, String> {
    let mut broken = Vec::new();
    let css_path = book_src.parent().unwrap_or(book_src).join("wrap.css");
    let css = fs::read_to_string(&css_path).unwrap_or_default();
    broken.extend(
        page_width_problems(&css)
            .into_iter()
            .map(|problem| BrokenInclude {
                chapter: css_path.clone(),
                problem,
            }),
    );
    for listing in listings(book_src, html_dir)? {
        if TRANSCRIPTS.contains(&listing.language.as_str()) {
            continue;
        }
        for line in listing.rendered.lines() {
            let columns = line.chars().count();
            if columns > MAX_COLUMNS {
                broken.push(BrokenInclude {
                    chapter: listing.chapter.clone(),
                    problem: format!(
                        "the listing at {} has a line of {columns} columns (at most \
                         {MAX_COLUMNS} fit the page): {}",
                        listing.name(),
                        line.trim()
                    ),
                });
            }
        }
        let mut lines = listing.rendered.lines().filter(|l| !l.trim().is_empty());
        let first = lines.clone().next();
        if first.is_some() && lines.all(|line| line.starts_with([' ', '\t'])) {
            broken.push(BrokenInclude {
                chapter: listing.chapter.clone(),
                problem: format!(
                    "the listing at {} renders indented as a block: is book/listings still \
                     a preprocessor in book.toml?",
                    listing.name()
                ),
            });
        }
    }
    Ok(broken)
}

/// How mdBook (0.5) lays out a page, in pixels, and the screen the book must
/// fit: the sidebar, the page's and the content's padding on each side, a code
/// block's padding on each side, and the width of one character of code (14px
/// Source Code Pro is 0.6 of its size).
const SCREEN: f64 = 1280.0;
const SIDEBAR: f64 = 300.0;
const PAGE_PADDING: f64 = 15.0 + 5.0;
const CODE_PADDING: f64 = 10.0;
const CODE_CHARACTER: f64 = 8.4;
/// mdBook's own `--content-max-width`, where the book's CSS sets none.
const DEFAULT_CONTENT_WIDTH: f64 = 750.0;

/// What would cut a line off on a 1280-pixel-wide page, from the book's own
/// CSS (`css`, its `additional-css`): a page too narrow for [`MAX_COLUMNS`] of
/// code, or a kind of transcript that does not wrap.
pub fn page_width_problems(css: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let content = css
        .split("--content-max-width:")
        .nth(1)
        .and_then(|rest| rest.trim_start().split("px").next())
        .and_then(|width| width.trim().parse::<f64>().ok())
        .unwrap_or(DEFAULT_CONTENT_WIDTH);
    let room = content.min(SCREEN - SIDEBAR - 2.0 * PAGE_PADDING);
    let fits = ((room - 2.0 * CODE_PADDING) / CODE_CHARACTER).floor() as usize;
    if fits < MAX_COLUMNS {
        problems.push(format!(
            "a code block on a 1280-pixel page has room for {fits} columns, not \
             {MAX_COLUMNS}: set --content-max-width to at least {:.0}px",
            MAX_COLUMNS as f64 * CODE_CHARACTER + 2.0 * CODE_PADDING
        ));
    }
    let wrapping: Vec<&str> = css
        .split('}')
        .filter_map(|rule| rule.split_once('{'))
        .filter(|(_, body)| body.contains("white-space: pre-wrap"))
        .map(|(selectors, _)| selectors)
        .collect();
    for language in TRANSCRIPTS {
        let selector = format!("code.language-{language}");
        if !wrapping.iter().any(|selectors| {
            selectors
                .split(',')
                .any(|one| one.trim().ends_with(selector.as_str()))
        }) {
            problems.push(format!(
                "```{language} blocks do not wrap (no `white-space: pre-wrap` for \
                 {selector}): a long line of output would be cut off"
            ));
        }
    }
    problems
}

/// The fenced code blocks of a chapter, in order: the opening fence's line,
/// the language, and the targets of the includes inside.
fn fenced_blocks(markdown: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, Vec<String>)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let Some(after) = line.trim_start().strip_prefix("```") else {
            if let Some((_, _, includes)) = open.as_mut() {
                includes.extend(include_targets(line).into_iter().map(String::from));
            }
            continue;
        };
        match open.take() {
            Some(block) => blocks.push(block),
            // ```` ```sh ```` in a sentence is inline code, not a fence.
            None if after.contains('`') => {}
            None => {
                let language = after.trim().split([',', ' ']).next().unwrap_or_default();
                open = Some((index + 1, language.to_string(), Vec::new()));
            }
        }
    }
    blocks
}

/// The text of every `<pre><code …>` block of an mdBook page, in order.
fn code_blocks(html: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<pre><code") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let body = &after[open_end + 1..];
        let end = body.find("</code></pre>").unwrap_or(body.len());
        blocks.push(decode(&strip_tags(&body[..end])));
        rest = &body[end..];
    }
    blocks
}

/// `text` without its HTML tags (mdBook wraps hidden lines in `<span>`s).
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The characters HTML escapes in code, decoded (`&amp;` last, so `&amp;lt;`
/// stays `&lt;`).
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book of one chapter, its page as `html`, and the book's real CSS, in
    /// a temporary folder.
    fn book(markdown: &str, html: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (src, build) = (dir.path().join("src"), dir.path().join("build"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&build).unwrap();
        fs::write(src.join("ch01.md"), markdown).unwrap();
        fs::write(build.join("ch01.html"), html).unwrap();
        fs::write(
            dir.path().join("wrap.css"),
            fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/wrap.css")).unwrap(),
        )
        .unwrap();
        (dir, src, build)
    }

    /// The one problem `check` finds in the book at `src` and `build`.
    fn only_problem(src: &Path, build: &Path) -> String {
        let broken = check(src, build).unwrap();
        assert_eq!(broken.len(), 1, "{broken:?}");
        broken[0].problem.clone()
    }

    #[test]
    fn a_listing_rendered_indented_is_named_by_its_line_file_and_anchor() {
        let markdown = "# One\n\n```console\n$ ls\n  a\n```\n\n```rust,ignore\n\
                        {{#include ../../labs/x.rs:accept}}\n```\n";
        let html = "<pre><code class=\"language-console\">  $ ls\n  a</code></pre>\
                    <pre><code class=\"language-rust ignore\">    let x = &amp;y;\n\n    \
                    <span class=\"boring\">go(x);</span></code></pre>";
        let (_dir, src, build) = book(markdown, html);
        let problem = only_problem(&src, &build);
        assert!(
            problem.contains("line 8 (../../labs/x.rs:accept)"),
            "{problem}"
        );
        let listings = listings(&src, &build).unwrap();
        assert_eq!(listings[1].rendered, "    let x = &y;\n\n    go(x);");
        assert_eq!(listings[1].language, "rust");
    }

    #[test]
    fn a_line_of_code_over_90_columns_is_named_but_a_transcripts_is_not() {
        let long = format!("let x = \"{}\";", "y".repeat(80));
        let markdown = "```text\nout\n```\n```rust,ignore\n{{#include a.rs:long}}\n```\n";
        let html = format!(
            "<pre><code class=\"language-text\">{}</code></pre>\
             <pre><code class=\"language-rust ignore\">fn f() {{\n{long}\n}}</code></pre>",
            "z".repeat(120)
        );
        let (_dir, src, build) = book(markdown, &html);
        let problem = only_problem(&src, &build);
        assert!(
            problem.contains("line 4 (a.rs:long) has a line of 91 columns"),
            "{problem}"
        );
    }

    #[test]
    fn the_page_must_fit_90_columns_of_code_and_wrap_every_transcript() {
        let wraps = "pre > code.language-text,\npre > code.language-console {\n    \
                     white-space: pre-wrap;\n}\n";
        let problems = page_width_problems(wraps);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("room for 86 columns"),
            "{}",
            problems[0]
        );
        let wide = format!("{wraps}:root {{ --content-max-width: 780px; }}");
        assert_eq!(page_width_problems(&wide), Vec::<String>::new());
        let console_only = "pre > code.language-console { white-space: pre-wrap; }\n\
                            :root { --content-max-width: 780px; }";
        let problems = page_width_problems(console_only);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("```text blocks do not wrap"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_listing_at_the_margin_passes_and_a_page_that_does_not_match_fails() {
        let markdown = "Use ```` ```rust ```` blocks.\n```rust\nfn f() {\n    g();\n}\n```\n";
        let html = "<pre><code class=\"language-rust\">fn f() {\n    g();\n}</code></pre>";
        let (_dir, src, build) = book(markdown, html);
        assert_eq!(check(&src, &build).unwrap(), Vec::new());
        fs::write(build.join("ch01.html"), "<p>no code</p>").unwrap();
        assert!(check(&src, &build).unwrap_err().contains("cannot tell"));
    }
}
