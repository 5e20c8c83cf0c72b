//! The book's one preprocessor: code listings without their source indentation.
//!
//! The chapters include named regions of the labs' code
//! (`{{#include ../../labs/01-hello/src/server.rs:accept}}`), and most regions
//! are steps inside a function, narrated one by one. mdBook (0.5) keeps the
//! region's indentation, so such a listing would render shifted right as a
//! block, 4 or 8 columns of nothing. mdBook runs this program after its own
//! `links` preprocessor has pasted the regions in (see `book.toml`); it hands
//! over the whole book as JSON on stdin and reads it back on stdout, with every
//! code block moved back to the left margin ([`dedent::code_blocks`]).
//!
//! `labkit check-book` reads the rendered pages, so a listing that still comes
//! out indented (this preprocessor left out of `book.toml`, say) fails a test.

mod dedent;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use serde_json::Value;

fn main() -> ExitCode {
    // mdBook first asks `book-listings supports RENDERER`: the answer is yes
    // for every renderer, since only the Markdown changes.
    if std::env::args().nth(1).as_deref() == Some("supports") {
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!(
                "error: book-listings: {problem} (hint: run it from mdBook, as book.toml says)"
            );
            ExitCode::FAILURE
        }
    }
}

/// Reads `[context, book]` from mdBook, and writes the book back with its
/// chapters' code blocks dedented.
fn run() -> Result<(), String> {
    let mut input = String::new();
    io::stdin()
        .read_to_string(&mut input)
        .map_err(|err| format!("cannot read the book from stdin: {err}"))?;
    let value: Value = serde_json::from_str(&input)
        .map_err(|err| format!("stdin is not mdBook's JSON: {err}"))?;
    let Value::Array(mut pair) = value else {
        return Err("stdin is not mdBook's [context, book] pair".to_string());
    };
    let mut book = pair
        .pop()
        .ok_or("stdin is not mdBook's [context, book] pair")?;
    if let Some(items) = book.get_mut("items").and_then(Value::as_array_mut) {
        dedent_items(items);
    }
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, &book)
        .map_err(|err| format!("cannot write the book to stdout: {err}"))?;
    stdout
        .flush()
        .map_err(|err| format!("cannot write the book to stdout: {err}"))
}

/// Dedents the code blocks of every chapter in `items`, and of their
/// sub-chapters (a book item is `{"Chapter": {...}}`, `"Separator"` or
/// `{"PartTitle": "..."}`).
fn dedent_items(items: &mut [Value]) {
    for chapter in items.iter_mut().filter_map(|item| item.get_mut("Chapter")) {
        if let Some(Value::String(content)) = chapter.get_mut("content") {
            *content = dedent::code_blocks(content);
        }
        if let Some(sub_items) =
            chapter.get_mut("sub_items").and_then(Value::as_array_mut)
        {
            dedent_items(sub_items);
        }
    }
}
