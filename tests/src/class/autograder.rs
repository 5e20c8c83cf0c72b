//! The Gradescope autograder: a zip to upload, and the grade it runs.
//!
//! Gradescope unpacks the zip into `/autograder/source`, runs `setup.sh`
//! once to build its image, then `run_autograder` for each submission, which
//! must leave `/autograder/results/results.json`. Our zip holds the suite's
//! source (the grader and the lab's reference programs), not binaries: the
//! image builds them for its own system, offline from cargo's cache when it
//! can (as the tests here do) and from crates.io when it must.
//!
//! Both scripts honour `AUTOGRADER_ROOT` (default `/autograder`), so the
//! tests run them in a made-up layout under a temporary folder. Gradescope's
//! container is made for one submission and thrown away, so the grade runs
//! there without our sandbox.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use shared::Failure;

use super::{Grading, Isolation, Programs, Report, grade_submission};
use crate::labs::{self, Lab};

/// What `labkit autograder` takes.
#[derive(clap::Args)]
pub struct ZipArgs {
    /// The lab: 1, 01, or its name (hello)
    lab: String,
    /// The zip to write
    zip: PathBuf,
    /// How to run a submission's programs
    #[command(flatten)]
    programs: Programs,
    /// Checks whose results students see only after the due date
    #[arg(long, value_name = "CHECK,...", value_delimiter = ',')]
    hide: Vec<String>,
}

/// What `labkit run-autograder` takes.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The autograder's folder, holding source/, submission/ and results/
    /// (default: $AUTOGRADER_ROOT, else /autograder)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

impl RunArgs {
    /// The autograder's folder, as the scripts find it too.
    fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| {
            std::env::var_os("AUTOGRADER_ROOT")
                .map_or_else(|| PathBuf::from("/autograder"), PathBuf::from)
        })
    }
}

/// `autograder.json`, beside the source in the zip: what to grade and how.
#[derive(Debug, Serialize, Deserialize)]
struct Config {
    /// The lab's number.
    lab: String,
    /// How to run a submission.
    programs: Programs,
    /// Checks shown only after the due date.
    hide: Vec<String>,
}

/// The name of the configuration file at the zip's root.
const CONFIG: &str = "autograder.json";

/// What of the suite goes into the zip: enough to build the grader and the
/// labs' programs, not their tests or the book.
const SUITE_FILES: [&str; 3] = ["Cargo.toml", "Cargo.lock", "clippy.toml"];

/// Writes the autograder zip that `args` describes.
pub fn write_zip(args: &ZipArgs) -> Result<(), Failure> {
    let (lab, checks) = super::graded_lab(&args.lab)?;
    if let Some(unknown) = args
        .hide
        .iter()
        .find(|id| !checks.iter().any(|check| check.id == *id))
    {
        return Err(
            Failure::new(format!("lab {} has no check '{unknown}'", lab.number))
                .hint("--hide takes check ids from the lab's rubric table"),
        );
    }
    let programs = &args.programs;
    programs.check_given()?;
    let zip = std::path::absolute(&args.zip)
        .map_err(|err| Failure::io(format_args!("find {}", args.zip.display()), &err))?;
    let staging = tempfile::Builder::new()
        .prefix("labkit-autograder-")
        .tempdir()
        .map_err(|err| Failure::io("make a staging folder", &err))?;
    stage(&lab, programs, &args.hide, staging.path()).map_err(Failure::new)?;
    if zip.exists() {
        std::fs::remove_file(&zip)
            .map_err(|err| Failure::io(format_args!("replace {}", zip.display()), &err))?;
    }
    // Python's zipfile keeps the scripts' executable bits, and every
    // machine that grades Python labs has it.
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .args(
            std::fs::read_dir(staging.path())?
                .flatten()
                .map(|e| e.file_name()),
        )
        .current_dir(staging.path())
        .status()
        .map_err(|err| Failure::io("run python3 -m zipfile", &err))?;
    if !status.success() {
        return Err(Failure::new(format!("could not write {}", zip.display()))
            .hint("python3 -m zipfile said why above"));
    }
    println!(
        "wrote {}: upload it as the autograder of a Gradescope programming assignment",
        zip.display()
    );
    Ok(())
}

/// Lays out the zip's contents in `dir`: the scripts, the configuration,
/// and the suite's source.
fn stage(lab: &Lab, programs: &Programs, hide: &[String], dir: &Path) -> Result<(), String> {
    let suite = labs::labs_dir()
        .parent()
        .map(Path::to_path_buf)
        .ok_or("the labs folder has no parent")?;
    for name in SUITE_FILES {
        let from = suite.join(name);
        if from.is_file() {
            std::fs::copy(&from, dir.join(name))
                .map_err(|err| format!("cannot copy {}: {err}", from.display()))?;
        }
    }
    // Every member the workspace's Cargo.toml names must be there for cargo
    // to load it, the book's crates (book/listings, book/solutions) too.
    for member in ["shared", "tests", "book/listings", "book/solutions"] {
        copy_crate(&suite.join(member), &dir.join(member))?;
    }
    for each in labs::all() {
        copy_crate(&each.dir(), &dir.join("labs").join(each.folder()))?;
    }
    let config = Config {
        lab: lab.number.clone(),
        programs: programs.clone(),
        hide: hide.to_vec(),
    };
    let json = serde_json::to_string_pretty(&config).map_err(|err| err.to_string())?;
    write_file(&dir.join(CONFIG), &json, false)?;
    write_file(&dir.join("setup.sh"), &setup_script(lab, programs), true)?;
    write_file(&dir.join("run_autograder"), RUN_AUTOGRADER, true)
}

/// Copies a crate's manifest and `src/` (not its tests or fixtures).
fn copy_crate(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    std::fs::copy(from.join("Cargo.toml"), to.join("Cargo.toml"))
        .map_err(|err| format!("cannot copy {}/Cargo.toml: {err}", from.display()))?;
    super::copy_folder(&from.join("src"), &to.join("src"), super::Times::Fresh)
}

/// Writes a file of the zip, executable if it is a script.
fn write_file(path: &Path, text: &str, executable: bool) -> Result<(), String> {
    std::fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| format!("cannot make {} executable: {err}", path.display()))?;
    }
    Ok(())
}

/// `setup.sh`: builds the image once. Each step is skipped when what it
/// makes is already there.
fn setup_script(lab: &Lab, programs: &Programs) -> String {
    let bins = format!(
        "--bin labkit --bin {} --bin {}",
        lab.binary("server"),
        lab.binary("client")
    );
    let uses_python = programs
        .server
        .iter()
        .chain(&programs.client)
        .any(|command| command.contains("python"));
    let python = if uses_python {
        "if command -v python3 >/dev/null; then\n    echo \"python3 is here\"\nelse\n    apt-get update && apt-get install -y python3\nfi\n"
    } else {
        ""
    };
    format!(
        r#"#!/usr/bin/env bash
# Gradescope runs this once, to build the autograder's image: a Rust
# toolchain, then the grader and lab {number}'s reference programs from the
# source beside this script. Steps whose result is already there are skipped.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$root/source"
export PATH="$HOME/.cargo/bin:$PATH"

if command -v cargo >/dev/null; then
    echo "cargo is here: skipping the Rust toolchain"
else
    command -v curl >/dev/null && command -v cc >/dev/null ||
        {{ apt-get update && apt-get install -y curl build-essential; }}
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
fi
{python}
if [ -x target/debug/labkit ] && [ -x target/debug/{server} ] && [ -x target/debug/{client} ]; then
    echo "the grader is built: skipping the build"
else
    # From cargo's cache if it has every crate, else from crates.io.
    cargo build --locked --offline --target-dir target {bins} ||
        cargo build --locked --target-dir target {bins}
fi
"#,
        number = lab.number,
        server = lab.binary("server"),
        client = lab.binary("client"),
    )
}

/// `run_autograder`: grades the submission, and writes a results.json that
/// says what went wrong even when the grader itself cannot run.
const RUN_AUTOGRADER: &str = r#"#!/usr/bin/env bash
# Gradescope runs this for each submission. It grades AUTOGRADER_ROOT/submission
# (default /autograder) and always leaves AUTOGRADER_ROOT/results/results.json.
set -uo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
mkdir -p "$root/results"
labkit="$root/source/target/debug/labkit"
if [ -x "$labkit" ] && "$labkit" run-autograder --root "$root"; then
    exit 0
fi
if [ ! -s "$root/results/results.json" ]; then
    echo '{"score": 0, "output": "The grader could not run (did setup.sh build it?). Please tell your instructor.", "tests": []}' \
        > "$root/results/results.json"
fi
"#;

/// `labkit run-autograder`: grades `ROOT/submission` as `ROOT/source/
/// autograder.json` says and writes `ROOT/results/results.json`, whatever
/// the submission holds.
pub fn run(args: &RunArgs, bin_dir: &Path) -> Result<(), Failure> {
    let root = args.root();
    let results_dir = root.join("results");
    std::fs::create_dir_all(&results_dir)
        .map_err(|err| Failure::io(format_args!("create {}", results_dir.display()), &err))?;
    let results = match grade_the_submission(&root, bin_dir) {
        Ok(report) => report.gradescope,
        Err(why) => serde_json::json!({"score": 0, "output": why, "tests": []}),
    };
    let path = results_dir.join("results.json");
    let json = serde_json::to_string_pretty(&results)
        .map_err(|err| Failure::new(format!("cannot encode the results: {err}")))?;
    std::fs::write(&path, json + "\n")
        .map_err(|err| Failure::io(format_args!("write {}", path.display()), &err))
}

/// The report for `ROOT/submission`, or why the grader cannot grade at all.
fn grade_the_submission(root: &Path, bin_dir: &Path) -> Result<Report, String> {
    let config_path = root.join("source").join(CONFIG);
    let config: Config = std::fs::read_to_string(&config_path)
        .map_err(|err| err.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
        .map_err(|err| {
            format!(
                "The autograder is broken ({} unreadable: {err}). Please tell your instructor.",
                config_path.display()
            )
        })?;
    let lab = labs::find(&config.lab).map_err(|err| format!("The autograder is broken: {err}"))?;
    let submission = unwrap_lone_folder(&root.join("submission"));
    let empty = std::fs::read_dir(&submission).map_or(true, |mut entries| entries.next().is_none());
    let report = if empty {
        Report::zeros(
            &lab,
            "the submission is empty: upload your files and submit again",
        )
    } else {
        let scratch = tempfile::Builder::new()
            .prefix("labkit-submission-")
            .tempdir()
            .map_err(|err| format!("cannot make a scratch folder: {err}"))?;
        let labkit = bin_dir.join("labkit");
        let grading = Grading {
            lab: &lab,
            programs: &config.programs,
            labkit: &labkit,
            isolation: Isolation::Container,
            warm_target: None,
        };
        grade_submission(&grading, &submission, scratch.path())
    };
    Ok(hide_checks(report, &config.hide))
}

/// The folder inside `folder` if that is all it holds (a student who
/// uploaded a zip of their folder), else `folder` itself.
fn unwrap_lone_folder(folder: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    match entries.as_slice() {
        [only] if only.is_dir() => only.clone(),
        _ => folder.to_path_buf(),
    }
}

/// Marks the checks named in `hide` as shown only after the due date.
fn hide_checks(mut report: Report, hide: &[String]) -> Report {
    if let Some(tests) = report
        .gradescope
        .get_mut("tests")
        .and_then(|tests| tests.as_array_mut())
    {
        for test in tests {
            let id = test
                .get("name")
                .and_then(|name| name.as_str())
                .and_then(|name| name.split(": ").next())
                .unwrap_or_default()
                .to_string();
            if hide.contains(&id) {
                test["visibility"] = "after_due_date".into();
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the zip's `run_autograder` in a made-up root whose grader is
    /// `labkit` (a shell script), or absent, and returns results.json.
    fn run_script_with(labkit: Option<&str>) -> serde_json::Value {
        let root = tempfile::tempdir().unwrap();
        let source = root.path().join("source");
        std::fs::create_dir_all(source.join("target/debug")).unwrap();
        write_file(&source.join("run_autograder"), RUN_AUTOGRADER, true).unwrap();
        if let Some(script) = labkit {
            write_file(&source.join("target/debug/labkit"), script, true).unwrap();
        }
        let status = Command::new("bash")
            .arg(source.join("run_autograder"))
            .env("AUTOGRADER_ROOT", root.path())
            .status()
            .unwrap();
        assert!(status.success());
        let json = std::fs::read_to_string(root.path().join("results/results.json")).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    /// When the grader was never built, or stops without a word, students
    /// still get a results.json that says to tell the instructor.
    #[test]
    fn run_autograder_writes_results_when_the_grader_cannot_run() {
        for labkit in [None, Some("#!/bin/sh\nexit 101\n")] {
            let results = run_script_with(labkit);
            assert_eq!(results["score"], 0, "{results}");
            let output = results["output"].as_str().unwrap();
            assert!(output.contains("tell your instructor"), "{results}");
        }
    }

    /// What the grader wrote is kept, even when it then fails.
    #[test]
    fn run_autograder_keeps_the_graders_results() {
        let results = run_script_with(Some(
            "#!/bin/sh\necho '{\"score\": 7, \"tests\": []}' > \"$AUTOGRADER_ROOT/results/results.json\"\nexit 1\n",
        ));
        assert_eq!(results["score"], 7, "{results}");
    }
}
