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
//!
//! Here: generating and writing a starter. `markers.rs` replaces the regions,
//! `manifest.rs` writes the starter's Cargo manifests, and `check.rs` is the
//! check CI runs.

mod check;
mod manifest;
mod markers;

use std::fs;
use std::path::{Path, PathBuf};

use crate::grade;
use crate::labs::{self, Lab};

pub use check::{STARTER_LIMIT_PERCENT, check_all};
use manifest::{
    dependency_names, earlier_lab_dependencies, member_manifest, package_name, workspace_manifest,
};
use markers::{BEGIN, allow_unfinished};
pub use markers::{Replaced, replace_regions};

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
    let member = member_manifest(&lab_manifest)?;
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
    let mut used = dependency_names(&member)?;
    used.extend(dependency_names(&shared_manifest)?);
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
    for folder in earlier_lab_dependencies(&lab_manifest)? {
        let dir = suite.join("labs").join(&folder);
        let manifest = member_manifest(&read(&dir.join("Cargo.toml"))?)?;
        used.extend(dependency_names(&manifest)?);
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
        workspace_manifest(&suite_manifest, lab, &package, &earlier_labs, &used)?.into_bytes(),
    ));
    // The suite's lock file: the same versions it was tested with, and no
    // download on a machine that has built the suite. Cargo drops what the
    // starter does not use. And its lints and line width, so the starter's
    // code is formatted as the suite's is.
    for name in ["Cargo.lock", "clippy.toml", "rustfmt.toml"] {
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

    #[test]
    fn every_lab_has_a_starter_whose_todos_point_at_their_lines() {
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
}
