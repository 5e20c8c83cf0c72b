//! Student starter crates, generated from markers in the reference labs.
//!
//! A lab's source marks each part that a student writes:
//!
//! ```text
//!     // STARTER: read one message and answer it in capitals
//!     …the reference code…
//!     // STARTER_END
//! ```
//!
//! `just starter NN DIR` copies the lab and `shared` into a standalone Cargo
//! workspace and puts `// TODO: <text>` and `todo!("<text>")` where each
//! marked region was. The reference stays the one source of truth, so a
//! starter cannot drift from the lab it comes from; `just check-starters`
//! proves in CI that every starter builds without a warning and fails its
//! grade, and that every reference passes it.
//!
//! The rules for markers, each checked here with a clear error:
//! - a region ends its block: the `todo!()` stands for the block's value, so
//!   no code is left after it to be unreachable;
//! - regions do not nest, and every `STARTER` has its `STARTER_END`;
//! - a marker never sits inside an `// ANCHOR:` region, so the book's
//!   listings never show one.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::grade::{self, Subject};
use crate::labs::{self, Lab};

/// Opens a region; the rest of the line is what the student should write.
const BEGIN: &str = "// STARTER:";
/// Closes a region.
const END: &str = "// STARTER_END";
/// rustfmt's line width: a longer `todo!(…)` goes on three lines, as rustfmt
/// would put it, so that a starter is already formatted.
const MAX_WIDTH: usize = 100;
/// Dev-dependencies only the lab's own tests use; those tests stay behind
/// (the student is graded by `just grade` instead).
const TEST_ONLY_DEPENDENCIES: [&str; 2] = ["labkit", "assert_cmd"];

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
fn allow_unfinished(lib_rs: &str) -> String {
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

/// One `[section]` of a Cargo manifest (or the lines before the first one).
struct Section<'a> {
    /// The header line as written, `None` for the lines before the first.
    header: Option<&'a str>,
    /// The header's name: `workspace.dependencies`, `bin`, …
    name: String,
    lines: Vec<&'a str>,
}

/// Cuts a manifest into its sections, keeping every line.
fn sections(manifest: &str) -> Vec<Section<'_>> {
    let mut sections = vec![Section {
        header: None,
        name: String::new(),
        lines: Vec::new(),
    }];
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_start_matches('[');
            let name = name.split(']').next().unwrap_or(name).trim();
            sections.push(Section {
                header: Some(line),
                name: name.to_string(),
                lines: Vec::new(),
            });
        } else if let Some(last) = sections.last_mut() {
            last.lines.push(line);
        }
    }
    sections
}

/// Puts sections back together.
fn render(sections: &[Section<'_>]) -> String {
    let mut out = String::new();
    for section in sections {
        for line in section.header.iter().chain(&section.lines) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The key of a `key = value` (or `key.sub = value`) line.
fn entry_key(trimmed: &str) -> &str {
    let key = trimmed.split('=').next().unwrap_or(trimmed);
    key.split('.')
        .next()
        .unwrap_or(key)
        .trim()
        .trim_matches('"')
}

/// How many brackets and braces `line` opens, minus those it closes (outside
/// strings and comments): above 0, the value goes on to the next lines.
fn bracket_balance(line: &str) -> i32 {
    let (mut balance, mut in_string) = (0, false);
    for c in line.chars() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => break,
            '[' | '{' if !in_string => balance += 1,
            ']' | '}' if !in_string => balance -= 1,
            _ => {}
        }
    }
    balance
}

/// The lines of a section whose entries `keep` accepts; the comment lines
/// just above an entry go with it.
fn filter_entries<'a>(lines: &[&'a str], keep: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut comments = Vec::new();
    let (mut depth, mut keeping) = (0, true);
    for &line in lines {
        let trimmed = line.trim();
        if depth > 0 {
            if keeping {
                out.push(line);
            }
            depth += bracket_balance(line);
        } else if trimmed.starts_with('#') {
            comments.push(line);
        } else if trimmed.is_empty() {
            out.append(&mut comments);
            out.push(line);
        } else {
            keeping = keep(entry_key(trimmed));
            if keeping {
                out.append(&mut comments);
                out.push(line);
            }
            comments.clear();
            depth = bracket_balance(line);
        }
    }
    out.append(&mut comments);
    out
}

/// The names of the packages a manifest depends on, in any of its
/// dependency sections.
fn dependency_names(manifest: &str) -> BTreeSet<String> {
    sections(manifest)
        .iter()
        .filter(|section| section.name.ends_with("dependencies"))
        .flat_map(|section| section.lines.iter())
        .map(|line| line.trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#') && line.contains('='))
        .map(|line| entry_key(line).to_string())
        .collect()
}

/// The lab's manifest without the dev-dependencies of its tests, which stay
/// behind.
fn member_manifest(lab_manifest: &str) -> String {
    let mut kept = Vec::new();
    for mut section in sections(lab_manifest) {
        if section.name == "dev-dependencies" {
            section.lines =
                filter_entries(&section.lines, |key| !TEST_ONLY_DEPENDENCIES.contains(&key));
            let has_entries = section.lines.iter().any(|line| {
                let trimmed = line.trim();
                !trimmed.is_empty() && !trimmed.starts_with('#')
            });
            if !has_entries {
                continue;
            }
        }
        kept.push(section);
    }
    render(&kept)
}

/// The starter's own workspace manifest: the suite's settings, lints and
/// profiles with their concrete values, its two members, and the workspace
/// dependencies they use (at the suite's versions).
fn workspace_manifest(
    suite_manifest: &str,
    lab: &Lab,
    package: &str,
    earlier_labs: &[String],
    used: &BTreeSet<String>,
) -> String {
    let mut out = format!(
        "# Lab {} ({}), starter: generated by `just starter {}` from the sockets labs.\n\
         # {package} is where your TODOs are; shared is the command-line contract\n\
         # every lab uses{} (finished; you need not touch them).\n\n",
        lab.number,
        lab.name,
        lab.number,
        if earlier_labs.is_empty() {
            String::new()
        } else {
            format!(
                ", and {} the earlier lab it builds on",
                earlier_labs.join(", ")
            )
        }
    );
    let mut member_names = vec!["\"shared\"".to_string(), format!("\"{package}\"")];
    member_names.extend(earlier_labs.iter().map(|folder| format!("\"{folder}\"")));
    let members = format!("members = [{}]", member_names.join(", "));
    let mut kept = Vec::new();
    for mut section in sections(suite_manifest) {
        match section.name.as_str() {
            // The suite's opening comments are about the suite.
            "" => continue,
            "workspace" => {
                let mut lines = vec![members.as_str()];
                lines.extend(filter_entries(&section.lines, |key| {
                    !["members", "exclude", "default-members"].contains(&key)
                }));
                section.lines = lines;
            }
            "workspace.dependencies" => {
                section.lines = filter_entries(&section.lines, |key| used.contains(key));
            }
            _ => {}
        }
        kept.push(section);
    }
    out.push_str(&render(&kept));
    out
}

/// The folders of earlier labs that a lab's manifest depends on by path
/// (`lab05-framed-header = { path = "../05-framed-header" }` → `05-framed-header`).
fn earlier_lab_dependencies(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("path = \"../")?.1;
            let folder = rest.split('"').next()?;
            (!folder.is_empty() && !folder.contains('/')).then(|| folder.to_string())
        })
        .collect()
}

/// The `name` in a manifest's `[package]` section.
fn package_name(manifest: &str) -> Option<String> {
    sections(manifest)
        .iter()
        .find(|section| section.name == "package")?
        .lines
        .iter()
        .map(|line| line.trim())
        .find(|line| entry_key(line) == "name" && line.contains('='))
        .and_then(|line| line.split_once('='))
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
}

/// Every file under `dir`, as paths relative to it, in a stable order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = fs::read_dir(dir.join(&relative))
            .map_err(|err| format!("cannot list {}: {err}", dir.join(&relative).display()))?;
        for entry in entries {
            let entry = entry.map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
            let path = relative.join(entry.file_name());
            if entry.path().is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

/// One part left for the student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    /// The file, relative to the starter's folder.
    pub file: PathBuf,
    /// The line of its `// TODO:` in that file, from 1.
    pub line: usize,
    /// What to write.
    pub text: String,
}

/// A starter, ready to write into a folder.
pub struct Starter {
    /// The lab it comes from.
    pub lab: Lab,
    /// The lab's package name, also its folder in the starter.
    pub package: String,
    /// Every file but the README, relative to the starter's folder.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// The parts left for the student, in file order.
    pub todos: Vec<Todo>,
    /// Whether the lab's source carries unit tests (`cargo test` runs them).
    pub has_unit_tests: bool,
    /// The lab's chapter in the suite, if it has one yet.
    pub chapter: Option<PathBuf>,
    /// The server's and the client's options in the lab's demo: a first
    /// thing to try.
    pub demo_args: (Vec<String>, Vec<String>),
}

/// Whether `lab` in the suite at `suite` has any `// STARTER:` region.
pub fn has_regions(lab: &Lab, suite: &Path) -> bool {
    let src = suite.join("labs").join(lab.folder()).join("src");
    files_under(&src).is_ok_and(|files| {
        files.iter().any(|file| {
            fs::read_to_string(src.join(file)).is_ok_and(|text| {
                text.lines()
                    .any(|line| line.trim_start().starts_with(BEGIN))
            })
        })
    })
}

/// Builds `lab`'s starter from the suite at `suite`: the lab's crate with its
/// regions replaced, a copy of `shared`, and a workspace around them.
pub fn generate(lab: &Lab, suite: &Path) -> Result<Starter, String> {
    let lab_dir = suite.join("labs").join(lab.folder());
    let lab_manifest = read(&lab_dir.join("Cargo.toml"))?;
    let package = package_name(&lab_manifest)
        .ok_or_else(|| format!("{}/Cargo.toml has no package name", lab_dir.display()))?;
    let member = member_manifest(&lab_manifest);
    let package_dir = PathBuf::from(&package);
    let mut files = vec![(package_dir.join("Cargo.toml"), member.clone().into_bytes())];
    let mut todos = Vec::new();
    let mut has_unit_tests = false;
    for relative in files_under(&lab_dir.join("src"))? {
        let path = lab_dir.join("src").join(&relative);
        let target = package_dir.join("src").join(&relative);
        if relative.extension().is_some_and(|ext| ext == "rs") {
            let source = read(&path)?;
            let replaced = replace_regions(&source).map_err(|err| {
                format!("labs/{}/src/{}: {err}", lab.folder(), relative.display())
            })?;
            has_unit_tests |= replaced.text.contains("#[cfg(test)]");
            let mut text = replaced.text;
            if relative == Path::new("lib.rs") {
                // Every line the allow adds comes before any TODO.
                let before = text.lines().count();
                text = allow_unfinished(&text);
                let shift = text.lines().count() - before;
                todos.extend(replaced.todos.into_iter().map(|(line, text)| Todo {
                    file: target.clone(),
                    line: line + shift,
                    text,
                }));
            } else {
                todos.extend(replaced.todos.into_iter().map(|(line, text)| Todo {
                    file: target.clone(),
                    line,
                    text,
                }));
            }
            files.push((target, text.into_bytes()));
        } else {
            let bytes =
                fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            files.push((target, bytes));
        }
    }
    if todos.is_empty() {
        return Err(format!(
            "lab {} has no `{BEGIN}` regions, so it has no starter yet",
            lab.number
        ));
    }
    if !files
        .iter()
        .any(|(path, _)| path == &package_dir.join("src/lib.rs"))
    {
        return Err(format!("labs/{}/src/lib.rs is missing", lab.folder()));
    }

    let shared_dir = suite.join("shared");
    let shared_manifest = read(&shared_dir.join("Cargo.toml"))?;
    let mut used = dependency_names(&member);
    used.extend(dependency_names(&shared_manifest));
    files.push((
        PathBuf::from("shared/Cargo.toml"),
        shared_manifest.into_bytes(),
    ));
    for relative in files_under(&shared_dir.join("src"))? {
        let path = shared_dir.join("src").join(&relative);
        let bytes =
            fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        files.push((Path::new("shared/src").join(relative), bytes));
    }

    // A lab that builds on an earlier one (lab 06 on lab 05's frames) comes
    // with that lab, finished, in a folder of the same name, so the
    // dependency's `path = "../05-framed-header"` resolves as in the suite.
    let mut earlier_labs = Vec::new();
    for folder in earlier_lab_dependencies(&lab_manifest) {
        let dir = suite.join("labs").join(&folder);
        let manifest = member_manifest(&read(&dir.join("Cargo.toml"))?);
        used.extend(dependency_names(&manifest));
        files.push((Path::new(&folder).join("Cargo.toml"), manifest.into_bytes()));
        for relative in files_under(&dir.join("src"))? {
            let path = dir.join("src").join(&relative);
            let bytes =
                fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            files.push((Path::new(&folder).join("src").join(relative), bytes));
        }
        earlier_labs.push(folder);
    }

    let suite_manifest = read(&suite.join("Cargo.toml"))?;
    files.push((
        PathBuf::from("Cargo.toml"),
        workspace_manifest(&suite_manifest, lab, &package, &earlier_labs, &used).into_bytes(),
    ));
    // The suite's lock file: the same versions it was tested with, and no
    // download on a machine that has built the suite. Cargo drops what the
    // starter does not use.
    for name in ["Cargo.lock", "clippy.toml"] {
        if let Ok(bytes) = fs::read(suite.join(name)) {
            files.push((PathBuf::from(name), bytes));
        }
    }
    files.push((PathBuf::from(".gitignore"), b"/target\n".to_vec()));
    let chapter = Path::new("book/src").join(format!("ch{}-{}.md", lab.number, lab.name));
    let demo_args = read(&lab_dir.join("demo.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<crate::demo::Scenario>(&text).ok())
        .map(|scenario| {
            let client = scenario
                .steps
                .into_iter()
                .next()
                .map(|step| step.client_args);
            (scenario.server_args, client.unwrap_or_default())
        })
        .unwrap_or_default();
    Ok(Starter {
        lab: lab.clone(),
        package,
        files,
        todos,
        has_unit_tests,
        chapter: suite.join(&chapter).is_file().then_some(chapter),
        demo_args,
    })
}

/// The starter's README: what to write, where, and how to check it.
fn readme(starter: &Starter, dir: &Path) -> String {
    let Starter { lab, package, .. } = starter;
    let number = &lab.number;
    let mut todos = String::new();
    for todo in &starter.todos {
        todos.push_str(&format!(
            "- `{}` line {}: {}\n",
            todo.file.display(),
            todo.line,
            todo.text
        ));
    }
    let chapter = match &starter.chapter {
        Some(chapter) => format!(
            "The lab's chapter, `{}` in the suite (`just book` serves the\nbook), \
             explains it step by step. ",
            chapter.display()
        ),
        None => String::new(),
    };
    let unit_tests = if starter.has_unit_tests {
        "# The unit tests that came with the lab's code\ncargo test\n"
    } else {
        ""
    };
    let run = |role: &str, args: &[String]| {
        let mut words = format!("cargo run --bin lab{number}-{role}");
        if !args.is_empty() {
            words.push_str(" --");
            for arg in args {
                words.push(' ');
                words.push_str(&grade::shell_quote(arg));
            }
        }
        words
    };
    let (server_args, client_args) = &starter.demo_args;
    let (server, client) = (run("server", server_args), run("client", client_args));
    let dir = grade::shell_quote(&dir.to_string_lossy());
    format!(
        "# Lab {number} ({name}): your starter

This is lab {number} of the sockets labs with the heart of the lab taken out for
you to write. Everything else is the reference code and already works: the
command line, the binaries `lab{number}-server` and `lab{number}-client`, and `shared`.

## What to write

Each part to write is a `// TODO:` followed by `todo!(…)`, which compiles but
stops the program with \"not yet implemented\" when it gets there. Replace both
with your code:

{todos}
{chapter}Run `just lab {number}` in the suite's folder to see what the
finished programs do.

## Check your work

```sh
# Does it compile?
cargo build
# Run it as the demo does: the server in one terminal, the client in another
{server}
{client}
{unit_tests}```

Then grade it from the suite's folder:

```sh
just grade {number} --crate {dir}
```

The grader builds this folder, starts your programs and talks to them over
real sockets. Each failed check says what it expected, what it saw, and the
command that runs it alone.

When every TODO is done, delete the `#![allow(…)]` line and the comment above
it at the top of `{package}/src/lib.rs`: the compiler will then point at
anything you left unused, and `cargo clippy -- -D warnings` should be quiet.
",
        name = lab.name,
    )
}

/// Writes `starter` into `dir`, which must be new or empty, and returns the
/// folder's full path.
pub fn write(starter: &Starter, dir: &Path) -> Result<PathBuf, String> {
    if dir.exists() {
        let empty = fs::read_dir(dir).map(|mut entries| entries.next().is_none());
        if !matches!(empty, Ok(true)) {
            return Err(format!(
                "{} already exists and is not an empty folder; give a new folder \
                 (a starter never overwrites anything)",
                dir.display()
            ));
        }
    }
    let absolute = std::path::absolute(dir)
        .map_err(|err| format!("cannot find where {} is: {err}", dir.display()))?;
    let suite_labs = std::path::absolute(labs::labs_dir()).unwrap_or_else(|_| labs::labs_dir());
    if absolute.starts_with(&suite_labs) {
        return Err(format!(
            "{} is inside the suite's labs/ folder, where Cargo would take it for one of the \
             suite's labs; give a folder elsewhere",
            dir.display()
        ));
    }
    sync(starter, dir)
}

/// Makes `dir` hold exactly `starter`'s files, writing only those whose bytes
/// changed: cargo decides what to rebuild from the files' modification
/// times, so a starter generated again into the same folder builds in a
/// moment. Returns the folder's full path.
fn sync(starter: &Starter, dir: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let full = dir
        .canonicalize()
        .map_err(|err| format!("cannot find where {} is: {err}", dir.display()))?;
    let mut files: Vec<(PathBuf, Vec<u8>)> = starter.files.clone();
    files.push((
        PathBuf::from("README.md"),
        readme(starter, &full).into_bytes(),
    ));
    for stale in files_under(dir)? {
        if !files.iter().any(|(relative, _)| *relative == stale) {
            let path = dir.join(stale);
            fs::remove_file(&path)
                .map_err(|err| format!("cannot remove {}: {err}", path.display()))?;
        }
    }
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if fs::read(&path).is_ok_and(|old| old == bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
        }
        fs::write(&path, bytes).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    Ok(full)
}

/// The checks a lab's starter must lose: each stands for a TODO. A starter
/// passing one of them would be handing out that part of the lesson solved.
///
/// A lab not listed must still lose points; a listed check that the rubric
/// does not have is an error, so that a renamed check is noticed here.
pub fn must_lose(lab_number: &str) -> &'static [&'static str] {
    match lab_number {
        "01" => &["echo-capitals", "bytes-not-text", "client-prints-reply"],
        "02" => &[
            "every-message",
            "next-client-after-close",
            "survives-reset",
            "twenty-at-once",
        ],
        "03" => &[
            "datagram-echo",
            "kept-boundaries",
            "empty-datagram",
            "reply-to-each-sender",
            "client-prints-replies",
            "client-retries",
            "client-gives-up",
        ],
        "04" => &[
            "counts-every-byte",
            "counts-a-cut-stream",
            "large-write-is-cut",
            "empty-stream",
            "clients-at-once",
        ],
        "05" => &[
            "hello-report",
            "every-report",
            "large-reply",
            "one-byte-at-a-time",
            "merged-writes",
            "random-cuts",
            "refuses-unknown-report",
            "survives-bad-frames",
            "client-through-proxy",
            "client-checks-crc",
        ],
        "06" => &[
            "get-every-byte",
            "put-is-stored",
            "refuses-unsafe-names",
            "missing-file",
            "bad-digest-keeps-nothing",
            "clients-at-once",
            "client-get-and-put",
            "client-checks-digest",
        ],
        _ => &[],
    }
}

/// Runs `cargo ARGS` in `dir`; on failure, says what cargo printed.
fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("cargo")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = printed.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    Err(format!(
        "`cargo {}` failed:\n    {}",
        args.join(" "),
        tail.join("\n    ")
    ))
}

/// Generates `lab`'s starter into `dir` and checks it with cargo: formatted,
/// no clippy warning (its unit tests included), and built into `target`.
fn build_starter(lab: &Lab, suite: &Path, dir: &Path, target: &Path) -> Result<(), String> {
    let starter = generate(lab, suite)?;
    sync(&starter, dir)?;
    let target = target.to_string_lossy();
    cargo(dir, &["fmt", "--all", "--check"])?;
    cargo(
        dir,
        &[
            "clippy",
            "--quiet",
            "--all-targets",
            "--target-dir",
            &target,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Only the lab's own package: a starter that brings an earlier, finished
    // lab (lab 06 brings lab 05) must not put that lab's finished binaries
    // into the target folder all starters share, over its starter's.
    cargo(
        dir,
        &[
            "build",
            "--quiet",
            "-p",
            &starter.package,
            "--target-dir",
            &target,
        ],
    )
}

/// Grades the starter whose binaries are in `starter_bins` and the reference in
/// `reference_bins`; returns a summary, or what went wrong.
fn grade_starter(lab: &Lab, starter_bins: &Path, reference_bins: &Path) -> Result<String, String> {
    let reference = Subject::reference(lab, reference_bins);
    let starter = Subject::reference(lab, starter_bins);
    let checks = grade::rubrics::rubric(lab);
    if checks.is_empty() {
        // No rubric yet: the demo is the next best judge. The reference's
        // must run to the end, the starter's must not.
        let quiet: crate::process::Tee = Arc::new(|_: &str| {});
        crate::demo::run(lab, reference_bins, Arc::clone(&quiet))
            .map_err(|err| format!("the reference's demo fails: {err}"))?;
        return match crate::demo::run(lab, starter_bins, quiet) {
            Ok(()) => Err("no rubric yet, and the starter's demo runs to the end: \
                 its TODOs are not on the demo's path"
                .to_string()),
            Err(_) => {
                Ok("no rubric yet: the starter's demo fails, the reference's runs".to_string())
            }
        };
    }
    let missing: Vec<&str> = must_lose(&lab.number)
        .iter()
        .copied()
        .filter(|id| !checks.iter().any(|check| check.id == *id))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "must_lose lists checks the rubric does not have: {}",
            missing.join(", ")
        ));
    }
    // Both grades at once: a grade waits mostly on timeouts, not on the CPU.
    let timed = |subject: &Subject| {
        let timer = Instant::now();
        let outcomes = grade::grade(lab, subject, &reference, None);
        (outcomes, timer.elapsed().as_secs_f64())
    };
    let ((ours, reference_seconds), (outcomes, starter_seconds)) = thread::scope(|scope| {
        let reference_run = scope.spawn(|| timed(&reference));
        let starter_run = timed(&starter);
        reference_run
            .join()
            .map(|reference_run| (reference_run, starter_run))
            .map_err(|_| "grading the reference panicked".to_string())
    })?;
    let (earned, possible) = grade::report::totals(&ours);
    if earned < possible {
        return Err(format!(
            "the reference scores {earned}/{possible}, not full marks:\n{}",
            grade::report::text(&lab.number, &ours, &|id: &str| format!(
                "just grade {} --only {id}",
                lab.number
            ))
        ));
    }
    let (earned, possible) = grade::report::totals(&outcomes);
    let lost: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| !outcome.passed())
        .map(|outcome| outcome.id)
        .collect();
    let kept: Vec<&str> = must_lose(&lab.number)
        .iter()
        .copied()
        .filter(|id| !lost.contains(id))
        .collect();
    if earned >= possible || !kept.is_empty() {
        return Err(format!(
            "the starter scores {earned}/{possible} and still passes {}: a TODO no longer \
             stands in the way of what those checks test",
            if kept.is_empty() {
                "everything".to_string()
            } else {
                kept.join(", ")
            }
        ));
    }
    Ok(format!(
        "starter {earned}/{possible} in {starter_seconds:.1} s (loses {}); \
         reference {possible}/{possible} in {reference_seconds:.1} s",
        lost.join(", ")
    ))
}

/// For every lab with regions: generates its starter, checks that it is
/// formatted and builds without a warning, then grades it (it must lose
/// points, and every check in [`must_lose`]) and the reference (full marks).
///
/// The starters are written to `target/starter-crates/` and share one target
/// folder, `target/starters`; the grades run at the same time. `say` gets a
/// line per lab as it finishes.
pub fn check_all(
    suite: &Path,
    reference_bins: &Path,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    let started = Instant::now();
    let chosen: Vec<Lab> = labs::all()
        .into_iter()
        .filter(|lab| has_regions(lab, suite))
        .collect();
    if chosen.is_empty() {
        return Err("no lab has a `// STARTER:` region".to_string());
    }
    // Each starter's sources stay in the same folder from one run to the
    // next, and all of them build into one target folder: their dependencies
    // compile once, and an unchanged starter is not compiled again.
    let crates = suite.join("target").join("starter-crates");
    let target = suite.join("target").join("starters");
    let starter_bins = target.join("debug");
    let mut problems = Vec::new();
    let mut built = Vec::new();
    for lab in chosen {
        let building = Instant::now();
        let dir = crates.join(lab.folder());
        match build_starter(&lab, suite, &dir, &target) {
            Ok(()) => {
                say(&format!(
                    "lab {}: starter generated and built in {:.1} s",
                    lab.number,
                    building.elapsed().as_secs_f64()
                ));
                built.push(lab);
            }
            Err(err) => problems.push(format!("lab {}: {err}", lab.number)),
        }
    }
    let grading = Instant::now();
    thread::scope(|scope| {
        let runs: Vec<_> = built
            .iter()
            .map(|lab| {
                let starter_bins = &starter_bins;
                scope.spawn(move || (lab, grade_starter(lab, starter_bins, reference_bins)))
            })
            .collect();
        for run in runs {
            match run.join() {
                Ok((lab, Ok(summary))) => say(&format!("lab {}: {summary}", lab.number)),
                Ok((lab, Err(err))) => problems.push(format!("lab {}: {err}", lab.number)),
                Err(_) => problems.push("a grading thread panicked".to_string()),
            }
        }
    });
    say(&format!(
        "graded in {:.1} s; {:.1} s in all",
        grading.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes a folder when dropped, however the test ends.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

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
    fn an_earlier_lab_dependency_is_found_by_its_folder() {
        let manifest = "[dependencies]\nshared.workspace = true\nlab05-framed-header = { path = \"../05-framed-header\" }\n";
        assert_eq!(earlier_lab_dependencies(manifest), ["05-framed-header"]);
        assert!(
            earlier_lab_dependencies("[dependencies]\nx = { path = \"../../elsewhere/x\" }\n")
                .is_empty()
        );
    }

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

    #[test]
    fn the_member_manifest_drops_only_the_test_harness() {
        let manifest = "\
[package]
name = \"lab09-x\"
edition.workspace = true

[dependencies]
shared.workspace = true
serde = { workspace = true, features = [
    \"derive\",
] }

[dev-dependencies]
labkit.workspace = true
assert_cmd.workspace = true

[lints]
workspace = true
";
        let member = member_manifest(manifest);
        assert!(!member.contains("dev-dependencies"), "{member}");
        assert!(!member.contains("labkit"), "{member}");
        assert!(member.contains("    \"derive\",\n] }\n"), "{member}");
        assert!(member.ends_with("[lints]\nworkspace = true\n"), "{member}");
        assert_eq!(
            dependency_names(&member).into_iter().collect::<Vec<_>>(),
            ["serde", "shared"]
        );
        assert_eq!(package_name(manifest).as_deref(), Some("lab09-x"));
        let kept =
            member_manifest("[dev-dependencies]\nlabkit.workspace = true\ntempfile = \"3\"\n");
        assert_eq!(kept, "[dev-dependencies]\ntempfile = \"3\"\n");
    }

    #[test]
    fn the_workspace_manifest_keeps_concrete_values_and_only_used_dependencies() {
        let suite = "\
[workspace]
resolver = \"3\"
members = [\"shared\", \"tests\", \"labs/*\"]

[workspace.package]
edition = \"2024\"

[workspace.dependencies]
shared = { path = \"shared\" }
labkit = { path = \"tests\" }
clap = { version = \"4.5\", features = [\"derive\"] }
# Only lab 06 hashes.
sha2 = \"0.11\"

[workspace.lints.rust]
missing_docs = \"warn\"
";
        let lab = Lab {
            number: "09".to_string(),
            name: "x".to_string(),
        };
        let used: BTreeSet<String> = ["shared", "clap"].map(String::from).into();
        let manifest = workspace_manifest(suite, &lab, "lab09-x", &[], &used);
        let body = manifest.split_once("\n\n").unwrap().1;
        assert_eq!(
            body,
            "\
[workspace]
members = [\"shared\", \"lab09-x\"]
resolver = \"3\"

[workspace.package]
edition = \"2024\"

[workspace.dependencies]
shared = { path = \"shared\" }
clap = { version = \"4.5\", features = [\"derive\"] }

[workspace.lints.rust]
missing_docs = \"warn\"
"
        );
    }

    #[test]
    fn labs_01_to_05_have_starters_whose_todos_point_at_their_lines() {
        let suite = labs::labs_dir().parent().unwrap().to_path_buf();
        for number in ["01", "02", "03", "04", "05"] {
            let lab = labs::find(number).unwrap();
            assert!(has_regions(&lab, &suite), "lab {number}");
            let starter = generate(&lab, &suite).unwrap();
            for todo in &starter.todos {
                let (_, bytes) = starter
                    .files
                    .iter()
                    .find(|(path, _)| path == &todo.file)
                    .unwrap();
                let text = String::from_utf8_lossy(bytes);
                let line = text.lines().nth(todo.line - 1).unwrap();
                assert_eq!(
                    line.trim(),
                    format!("// TODO: {}", todo.text),
                    "lab {number}"
                );
            }
            let paths: Vec<&Path> = starter.files.iter().map(|(p, _)| p.as_path()).collect();
            assert!(paths.contains(&Path::new("shared/src/lib.rs")), "{paths:?}");
            assert!(paths.contains(&Path::new("Cargo.lock")));
            assert!(
                !paths
                    .iter()
                    .any(|p| p.starts_with(format!("{}/tests", starter.package)))
            );
        }
    }

    #[test]
    fn a_starter_is_written_only_into_a_new_or_empty_folder() {
        let suite = labs::labs_dir().parent().unwrap().to_path_buf();
        let starter = generate(&labs::find("01").unwrap(), &suite).unwrap();
        let dir = std::env::temp_dir().join(format!("labkit-starter-test-{}", std::process::id()));
        let _cleanup = Scratch(dir.clone());
        fs::create_dir_all(&dir).unwrap();
        let written = write(&starter, &dir).unwrap();
        let readme = fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(
            readme.contains(&format!("just grade 01 --crate {}", written.display())),
            "{readme}"
        );
        assert!(dir.join("lab01-hello/src/server.rs").is_file());
        let err = write(&starter, &dir).unwrap_err();
        assert!(
            err.contains("already exists and is not an empty folder"),
            "{err}"
        );
        let err = write(&starter, &labs::labs_dir().join("99-nope")).unwrap_err();
        assert!(err.contains("inside the suite's labs/ folder"), "{err}");
    }
}
