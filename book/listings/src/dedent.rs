//! Moves the code of a Markdown chapter's code blocks back to the left margin.

/// The blocks whose leading spaces are part of what they show: a program's
/// output keeps its columns as it was printed. `labkit check-book` skips the
/// same ones (`labkit::book_listings::TRANSCRIPTS`).
const AS_PRINTED: [&str; 2] = ["console", "text"];

/// `markdown` with the spaces every line of a code block shares removed, past
/// the fence's own indentation (a block inside a list item keeps its place in
/// the item). Transcripts (` ```console `, ` ```text `) are left as printed.
pub fn code_blocks(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        out.push(line.to_string());
        index += 1;
        let Some(fence) = Fence::opening(line) else {
            continue;
        };
        let end = (index..lines.len())
            .find(|&i| fence.is_closed_by(lines[i]))
            .unwrap_or(lines.len());
        let body = &lines[index..end];
        if AS_PRINTED.contains(&fence.language.as_str()) {
            out.extend(body.iter().map(|line| line.to_string()));
        } else {
            out.extend(dedent(body, fence.indent));
        }
        // The closing fence, which must not be read as an opening one.
        out.extend(lines.get(end).map(|line| line.to_string()));
        index = end + 1;
    }
    out.join("\n")
}

/// The opening line of a fenced code block.
struct Fence {
    /// Spaces before the fence (a block inside a list item is indented).
    indent: usize,
    /// The fence's character (`` ` `` or `~`) and how many open it.
    mark: char,
    length: usize,
    /// The first word of the info string: `rust` in ` ```rust,ignore `.
    language: String,
}

impl Fence {
    /// The fence that `line` opens, if it opens one.
    fn opening(line: &str) -> Option<Fence> {
        let trimmed = line.trim_start_matches(' ');
        let mark = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'))?;
        let length = trimmed.len() - trimmed.trim_start_matches(mark).len();
        let info = &trimmed[length..];
        // A backtick fence's info string may not hold a backtick: that line
        // is inline code (```` ```sh ```` in prose).
        if length < 3 || mark == '`' && info.contains('`') {
            return None;
        }
        let language = info
            .trim()
            .split([',', ' '])
            .next()
            .unwrap_or_default()
            .to_string();
        Some(Fence {
            indent: line.len() - trimmed.len(),
            mark,
            length,
            language,
        })
    }

    /// Whether `line` closes this block: the same mark, at least as many,
    /// nothing after them.
    fn is_closed_by(&self, line: &str) -> bool {
        let trimmed = line.trim();
        let run = trimmed.len() - trimmed.trim_start_matches(self.mark).len();
        run >= self.length && run == trimmed.len()
    }
}

/// The lines of one block with the spaces they all share beyond the fence's
/// `indent` removed; blank lines become empty.
fn dedent(body: &[&str], indent: usize) -> Vec<String> {
    let shared = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let extra = shared.saturating_sub(indent);
    body.iter()
        .map(|line| {
            if line.trim().is_empty() {
                String::new()
            } else {
                line[extra..].to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_cut_from_a_function_body_moves_to_the_margin() {
        let chapter = "Step 4:\n\n```rust,ignore\n    let (conn, peer) = listener.accept()?;\n\n    \
                       if ok {\n        serve(conn);\n    }\n```\n\nDone.";
        assert_eq!(
            code_blocks(chapter),
            "Step 4:\n\n```rust,ignore\nlet (conn, peer) = listener.accept()?;\n\nif ok {\n    \
             serve(conn);\n}\n```\n\nDone."
        );
    }

    #[test]
    fn every_block_of_a_chapter_is_dedented_not_only_the_first() {
        let chapter = "```rust\n    one();\n```\nProse.\n```text\nout\n```\n```rust\n        two();\n```\n";
        assert_eq!(
            code_blocks(chapter),
            "```rust\none();\n```\nProse.\n```text\nout\n```\n```rust\ntwo();\n```\n"
        );
    }

    #[test]
    fn transcripts_code_at_the_margin_and_prose_stay_as_they_are() {
        let chapter = "    indented prose\n```console\n$ just lab 01\n  a b\n```\n```text\n  0-9 % |\n```\n\
                       ```rust\nfn main() {\n    go();\n}\n```\n";
        assert_eq!(code_blocks(chapter), chapter);
    }

    #[test]
    fn a_block_in_a_list_item_keeps_the_items_indentation() {
        let chapter =
            "1. Run:\n\n   ```rust\n       let x = 1;\n         more(x);\n   ```\n";
        assert_eq!(
            code_blocks(chapter),
            "1. Run:\n\n   ```rust\n   let x = 1;\n     more(x);\n   ```\n"
        );
    }

    #[test]
    fn a_fence_inside_a_longer_fence_is_content_not_a_block() {
        let chapter = "````markdown\n    ```rust\n    x\n    ```\n````\n";
        assert_eq!(
            code_blocks(chapter),
            "````markdown\n```rust\nx\n```\n````\n"
        );
    }
}
