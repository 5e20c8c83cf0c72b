//! `labkit grade-class` and the autograder, run for real: small classes of
//! Python submissions made from the lab 02 fixtures, graded by the real
//! grader in real sandboxes. (The labs' binaries must be built: `just test`
//! builds them first.)

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The grader, built beside the labs' binaries.
fn labkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labkit"))
}

/// `tests/fixtures`.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A Python file that runs the fixture `script` (under `tests/fixtures`)
/// with `args`, as a student's `server.py` or `client.py` would run.
fn wrapper(script: &str, args: &[&str]) -> String {
    let path = fixtures().join(script);
    format!(
        "import runpy, sys\nsys.argv[0] = {path:?}\nsys.argv[1:1] = {args:?}\n\
         runpy.run_path({path:?}, run_name=\"__main__\")\n",
        path = path.display().to_string(),
    )
}

/// Writes a student folder `name` in `class` with the given `server.py`
/// and `client.py` (either may be left out).
fn student(class: &Path, name: &str, server: Option<String>, client: Option<String>) -> PathBuf {
    let folder = class.join(name);
    std::fs::create_dir_all(&folder).expect("make the student's folder");
    for (file, text) in [("server.py", server), ("client.py", client)] {
        if let Some(text) = text {
            std::fs::write(folder.join(file), text).expect("write the student's program");
        }
    }
    folder
}

/// A correct lab 02 student.
fn correct(class: &Path, name: &str) -> PathBuf {
    student(
        class,
        name,
        Some(wrapper("lab02/server.py", &[])),
        Some(wrapper("lab02/client.py", &[])),
    )
}

/// `labkit SUBCOMMAND 02 PATH` for Python programs named as our students'.
fn for_python(subcommand: &str, path: &Path) -> Command {
    let mut command = labkit();
    command
        .args([subcommand, "02"])
        .arg(path)
        .args(["--server", "python3 server.py"])
        .args(["--client", "python3 client.py"])
        // The tests grade several classes at once on two cores.
        .args(["--startup-timeout", "30"]);
    command
}

/// Runs `grade-class 02 DIR` with the Python commands and `extra` options.
fn grade_class(class: &Path, extra: &[&str]) -> Output {
    for_python("grade-class", class)
        .args(extra)
        .output()
        .expect("run labkit grade-class")
}

/// Runs `grade-class LAB DIR` with exactly the options `args`.
fn grade_class_as(lab: &str, class: &Path, args: &[&str]) -> Output {
    labkit()
        .args(["grade-class", lab])
        .arg(class)
        .args(args)
        .output()
        .expect("run labkit grade-class")
}

/// Bytes a program printed, as text.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A hostile student in `root/class/mallory`: a lab 02 server that first
/// tries to write the files returned, to reach the canary returned, and to
/// allocate 8 GiB, and exits (losing points) if any attempt works.
fn hostile(root: &Path) -> (PathBuf, TcpListener, Vec<PathBuf>) {
    let folder = student(
        &root.join("class"),
        "mallory",
        Some(wrapper("hostile/lab02_server.py", &[])),
        None,
    );
    let canary = TcpListener::bind("127.0.0.1:0").expect("listen as the canary");
    canary
        .set_nonblocking(true)
        .expect("make the canary non-blocking");
    let targets = vec![
        root.join("escaped.txt"),
        folder.join("escaped.txt"),
        PathBuf::from("/escaped.txt"),
    ];
    let plan = serde_json::json!({
        "write": targets,
        "canary": canary.local_addr().expect("the canary's address").to_string(),
    });
    std::fs::write(folder.join("hostile.json"), plan.to_string()).expect("write the plan");
    (folder, canary, targets)
}

/// Fails if any of the hostile student's attempts got through.
fn assert_contained(canary: &TcpListener, targets: &[PathBuf]) {
    for path in targets {
        assert!(!path.exists(), "{} was written", path.display());
    }
    assert!(
        canary.accept().is_err(),
        "the canary on the host's loopback was reached"
    );
}

/// In `grade-class`'s sandbox every attempt of the hostile submission fails,
/// so it keeps full marks, the files do not exist and the canary sees no
/// connection. (Without the sandbox it gets out and scores 0: see below.)
#[test]
fn a_hostile_submission_is_contained_and_loses_no_points() {
    // Not under /tmp: the sandbox hides the host's /tmp, which would make
    // the files outside scratch unreachable whether or not it works.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (_, canary, targets) = hostile(root.path());
    // Only the server is the student's: our client's checks are quick and
    // sure, so a full score means the server kept every point.
    let output = grade_class_as(
        "02",
        &root.path().join("class"),
        &["--server", "python3 server.py", "--startup-timeout", "30"],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let csv = std::fs::read_to_string(root.path().join("grades-02/grades.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    let report = std::fs::read_to_string(root.path().join("grades-02/mallory.txt")).unwrap();
    assert!(full_marks(row, "mallory"), "{report}");
    assert_contained(&canary, &targets);
}

/// The hostile submission really is hostile: graded with `--no-sandbox`,
/// one writes its file outside scratch and another, whose file cannot be
/// written, reaches the canary; each then refuses to serve and scores 0.
/// Without this, the contained test above could pass for a fixture that
/// never tried.
#[test]
fn the_hostile_submission_gets_out_without_the_sandbox() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let class = root.path().join("class");
    let canary = TcpListener::bind("127.0.0.1:0").unwrap();
    canary.set_nonblocking(true).unwrap();
    let escaped = root.path().join("escaped.txt");
    let cannot_write = root.path().join("no such folder/escaped.txt");
    for (name, target) in [("mallet", &cannot_write), ("mallory", &escaped)] {
        let folder = student(
            &class,
            name,
            Some(wrapper("hostile/lab02_server.py", &[])),
            None,
        );
        let plan = serde_json::json!({
            "write": [target],
            "canary": canary.local_addr().unwrap().to_string(),
        });
        std::fs::write(folder.join("hostile.json"), plan.to_string()).unwrap();
    }
    let output = grade_class_as(
        "02",
        &class,
        // Time for Python to get as far as its attempts on a busy machine.
        &[
            "--server",
            "python3 server.py",
            "--no-sandbox",
            "--startup-timeout",
            "30",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(escaped.exists(), "mallory's file was not written");
    assert!(canary.accept().is_ok(), "mallet did not reach the canary");
    let csv = std::fs::read_to_string(root.path().join("grades-02/grades.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows[0].starts_with("mallet,0,"), "{csv}");
    assert!(rows[1].starts_with("mallory,0,"), "{csv}");
}

/// `grade --sandbox` grades one student in the same sandbox, in the
/// current folder (read-only inside).
#[test]
fn grade_with_sandbox_contains_a_hostile_student() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (folder, canary, targets) = hostile(root.path());
    let output = labkit()
        .args(["grade", "02", "--sandbox", "--only", "every-message"])
        .args(["--server", "python3 server.py"])
        .current_dir(&folder)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains(": 15/15 points (100%)"), "{stdout}");
    assert_contained(&canary, &targets);

    // Where bubblewrap cannot run, one line says so, and the way out it
    // offers is one `grade` has (it has no --no-sandbox).
    let refused = labkit()
        .args(["grade", "02", "--sandbox", "--server", "python3 server.py"])
        .current_dir(&folder)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.starts_with("error: cannot run bwrap"), "{stderr}");
    assert!(stderr.contains("without --sandbox"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Missing and empty class folders are refused with one clear line; names
/// with spaces, quotes and non-ASCII letters, a missing server.py and a
/// crate that does not build each get a report, and the batch goes on.
#[test]
fn bad_input_gets_a_clear_message_and_never_stops_the_batch() {
    let root = tempfile::tempdir().unwrap();
    let missing = grade_class(&root.path().join("nobody"), &[]);
    assert!(!missing.status.success());
    let stderr = text(&missing.stderr);
    assert!(
        stderr.starts_with("error: could not open the class folder"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A file given where the class folder should be.
    let file = root.path().join("class.zip");
    std::fs::write(&file, "not a folder").unwrap();
    let not_a_folder = grade_class(&file, &[]);
    assert!(!not_a_folder.status.success());
    let stderr = text(&not_a_folder.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("is not a folder"), "{stderr}");
    assert!(stderr.contains("(hint: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let class = root.path().join("class");
    std::fs::create_dir_all(&class).unwrap();
    let empty = grade_class(&class, &[]);
    assert!(!empty.status.success());
    let stderr = text(&empty.stderr);
    assert!(stderr.contains("holds no student folders"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // Where bubblewrap cannot run (here: it is not on the PATH), the grade
    // is refused with one line saying why and what to do.
    correct(&class, "Zoë Ådahl");
    let refused = for_python("grade-class", &class)
        .env("PATH", "/nonexistent")
        .output()
        .expect("run labkit grade-class");
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.starts_with("error: cannot run bwrap"), "{stderr}");
    assert!(stderr.contains("--no-sandbox"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A refused grade leaves nothing behind, not even an empty gradebook.
    assert!(
        !root.path().join("grades-02").exists(),
        "a refused grade made the gradebook's folder"
    );

    correct(&class, "o'brien, \"pat\"");
    student(
        &class,
        "no server",
        None,
        Some(wrapper("lab02/client.py", &[])),
    );
    // A server that crashes as it starts fails every server check the same
    // way: the summary and the top of the report say so once.
    student(
        &class,
        "syntax error",
        Some("print('listening on'\n".to_string()),
        Some(wrapper("lab02/client.py", &[])),
    );
    let output = grade_class(&class, &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains("no server: note: the submission has no server.py"),
        "{stdout}"
    );
    let crashed = stdout
        .lines()
        .find(|line| line.starts_with("  syntax error: "))
        .unwrap_or_else(|| panic!("no summary line for the crashing server:\n{stdout}"));
    assert!(
        crashed.contains("note: the server passed none of its") && crashed.contains("SyntaxError"),
        "{stdout}"
    );
    let out = root.path().join("grades-02");
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert!(
        rows[0].starts_with("student,score,max_score,listening-line,"),
        "{csv}"
    );
    let report = |name: &str| std::fs::read_to_string(out.join(format!("{name}.txt"))).unwrap();
    assert!(full_marks(rows[1], "Zoë Ådahl"), "{}", report("Zoë Ådahl"));
    assert!(rows[2].starts_with("no server,30,110,0,"), "{csv}");
    assert!(
        rows[3].starts_with("\"o'brien, \"\"pat\"\"\",110,110,"),
        "{}",
        report("o'brien, \"pat\"")
    );
    // The rerun command works from anywhere: it names the student's folder.
    let rerun = format!(
        "reproduce: (cd '{}' && {} grade 02 --only listening-line --sandbox --server 'python3 server.py' --client 'python3 client.py')",
        class.join("no server").display(),
        env!("CARGO_BIN_EXE_labkit")
    );
    assert!(
        report("no server").contains(&rerun),
        "{}",
        report("no server")
    );
    let json = std::fs::read_to_string(out.join("syntax error.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    let top = results["output"].as_str().unwrap_or_default();
    assert!(
        top.contains("the server passed none of its") && top.contains("SyntaxError"),
        "{json}"
    );
    let json = std::fs::read_to_string(out.join("no server.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(results["score"], 30, "the client's checks only");
    assert!(
        results["output"].as_str().unwrap().contains("no server.py"),
        "{json}"
    );

    // A crate that does not build: zeros, cargo's error in the report.
    let crates = root.path().join("crates");
    let broken = crates.join("ada");
    std::fs::create_dir_all(broken.join("src")).unwrap();
    std::fs::write(
        broken.join("Cargo.toml"),
        "[package]\nname = \"ada\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(broken.join("src/main.rs"), "fn main() { let }\n").unwrap();
    let output = grade_class_as("02", &crates, &["--crate", "--startup-timeout", "30"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = std::fs::read_to_string(root.path().join("grades-02/ada.txt")).unwrap();
    assert!(
        report.starts_with("not graded: the crate does not build; cargo said:"),
        "{report}"
    );
    assert!(report.contains("expected pattern"), "{report}");
}

/// While grading, a progress line is drawn on the terminal (here a pseudo
/// terminal made by `script`), and nothing is drawn when stderr is a pipe.
#[test]
fn the_progress_line_shows_on_a_terminal_only() {
    let root = tempfile::tempdir().unwrap();
    let class = root.path().join("class");
    // A server that exits at once: a quick grade.
    student(&class, "quick", Some("raise SystemExit(1)\n".into()), None);
    let command = format!(
        "{} grade-class 02 {} --server 'python3 server.py' >/dev/null",
        env!("CARGO_BIN_EXE_labkit"),
        class.display()
    );
    let on_terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("run script (util-linux), which gives the grade a terminal");
    assert!(
        on_terminal.status.success(),
        "{}",
        text(&on_terminal.stderr)
    );
    let drawn = text(&on_terminal.stdout);
    assert!(
        // The bar is redrawn at most so often: the first frame is sure, not the last.
        drawn.contains("grading lab 02 [") && drawn.contains("/1 students"),
        "{drawn:?}"
    );
    let piped = grade_class_as("02", &class, &["--server", "python3 server.py"]);
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(text(&piped.stderr), "");
}

/// A correct lab 02 student whose server first appends their name to the
/// file `log` (which only an unsandboxed program can reach).
fn logging_correct(class: &Path, name: &str, log: &Path) -> PathBuf {
    let server = format!(
        "with open({log:?}, 'a') as log:\n    log.write({name:?} + '\\n')\n{}",
        wrapper("lab02/server.py", &[]),
        log = log.display().to_string(),
    );
    student(
        class,
        name,
        Some(server),
        Some(wrapper("lab02/client.py", &[])),
    )
}

/// `--jobs 1` grades one student after the other (each server the grade
/// starts logs its student: one student's lines all come first);
/// `--only-missing` grades only the students without a result, and the
/// gradebook still has everyone; `--no-sandbox` warns once and every report
/// says so.
#[test]
fn jobs_caps_only_missing_grades_the_rest_and_no_sandbox_is_marked() {
    let root = tempfile::tempdir().unwrap();
    let class = root.path().join("class");
    let log = root.path().join("servers.log");
    logging_correct(&class, "ann", &log);
    logging_correct(&class, "ben", &log);
    let out = root.path().join("book");
    let out_arg = out.to_str().unwrap();
    let first = grade_class(&class, &["--out", out_arg, "--no-sandbox", "--jobs", "1"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(
        stdout.starts_with("graded 2 student(s) of lab 02 in ") && stdout.contains(", 1 at a time"),
        "{stdout}"
    );
    let started = std::fs::read_to_string(&log).unwrap();
    let mut runs: Vec<&str> = started.lines().collect();
    runs.dedup();
    assert_eq!(
        runs,
        ["ann", "ben"],
        "servers started in this order:\n{started}"
    );
    let warning = text(&first.stderr);
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(
        warning.starts_with("warning: grading without a sandbox"),
        "{warning}"
    );
    let report = std::fs::read_to_string(out.join("ann.txt")).unwrap();
    assert!(report.starts_with("note: not sandboxed"), "{report}");

    std::fs::remove_file(out.join("ben.json")).unwrap();
    let again = grade_class(&class, &["--out", out_arg, "--only-missing"]);
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{stdout}{}", text(&again.stderr));
    assert!(
        stdout.starts_with("graded 1 student(s) of lab 02"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let ben = std::fs::read_to_string(out.join("ben.txt")).unwrap();
    assert!(!ben.contains("not sandboxed"), "{ben}");
}

/// `run-autograder` (what the zip's `run_autograder` calls) always writes
/// results.json: full marks for a correct submission (also when it comes as
/// one folder), fewer for a broken one, and zeros with a top-level `output`
/// for an empty one.
#[test]
fn run_autograder_always_writes_results() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("autograder.json"),
        r#"{"lab": "02", "programs": {"server": "python3 server.py", "client": "python3 client.py", "crate": false, "startup_seconds": 30}, "hide": ["twenty-at-once"]}"#,
    )
    .unwrap();
    let grade = |submission: &dyn Fn(&Path)| {
        let folder = root.path().join("submission");
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        submission(&folder);
        let status = labkit()
            .arg("run-autograder")
            .env("AUTOGRADER_ROOT", root.path())
            .status()
            .unwrap();
        assert!(status.success());
        let json = std::fs::read_to_string(root.path().join("results/results.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&json).unwrap()
    };
    // Uploaded as a zip of the student's folder: graded as its contents.
    let full = grade(&|folder| {
        correct(folder, "alice");
    });
    assert_eq!(full["score"], full["max_score"], "{full}");
    let hidden: Vec<_> = full["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|test| test["visibility"] == "after_due_date")
        .collect();
    assert_eq!(hidden.len(), 1);
    let broken = grade(&|folder| {
        student(
            folder.parent().unwrap(),
            "submission",
            Some(wrapper("lab02/server.py", &["--bug", "no-connection-loop"])),
            Some(wrapper("lab02/client.py", &[])),
        );
    });
    let score = broken["score"].as_u64().unwrap();
    assert!(
        score > 0 && broken["score"] != broken["max_score"],
        "{broken}"
    );
    let empty = grade(&|_| {});
    assert_eq!(empty["score"], 0);
    assert!(
        empty["output"]
            .as_str()
            .unwrap()
            .contains("the submission is empty"),
        "{empty}"
    );
}

/// The whole Gradescope round: write the zip, unpack it into a made-up
/// `/autograder`, run `setup.sh` (cargo is here, so no rustup; the grader
/// builds offline from the zip's source), then `run_autograder` for a
/// correct and a broken submission. A cold build: `just ci` runs it.
#[test]
#[ignore = "slow: builds the grader from the zip (just ci runs it)"]
fn the_autograder_zip_sets_up_and_grades() {
    let root = tempfile::tempdir().unwrap();
    let zip = root.path().join("lab02.zip");
    let made = for_python("autograder", &zip).output().unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let autograder = root.path().join("autograder");
    let source = autograder.join("source");
    // Unpacked as unzip does, with the modes stored in the zip.
    let unzip = Command::new("python3")
        .arg("-c")
        .arg(
            "import os, sys, zipfile\n\
             for entry in zipfile.ZipFile(sys.argv[1]).infolist():\n\
             \x20   path = zipfile.ZipFile(sys.argv[1]).extract(entry, sys.argv[2])\n\
             \x20   os.chmod(path, entry.external_attr >> 16 & 0o777 or 0o644)\n",
        )
        .arg(&zip)
        .arg(&source)
        .status()
        .unwrap();
    assert!(unzip.success());
    for script in ["setup.sh", "run_autograder"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(source.join(script))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
    }
    let setup = Command::new("bash")
        .arg(source.join("setup.sh"))
        .env("AUTOGRADER_ROOT", &autograder)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let said = text(&setup.stdout);
    assert!(setup.status.success(), "{said}{}", text(&setup.stderr));
    assert!(
        said.contains("cargo is here: skipping the Rust toolchain"),
        "{said}"
    );
    let again = Command::new("bash")
        .arg(source.join("setup.sh"))
        .env("AUTOGRADER_ROOT", &autograder)
        .output()
        .unwrap();
    assert!(text(&again.stdout).contains("the grader is built: skipping the build"));

    let mut scores = Vec::new();
    for bug in [None, Some("one-by-one")] {
        let submission = autograder.join("submission");
        let _ = std::fs::remove_dir_all(&submission);
        let args: Vec<&str> = bug.map(|bug| vec!["--bug", bug]).unwrap_or_default();
        student(
            &autograder,
            "submission",
            Some(wrapper("lab02/server.py", &args)),
            Some(wrapper("lab02/client.py", &[])),
        );
        let status = Command::new(source.join("run_autograder"))
            .env("AUTOGRADER_ROOT", &autograder)
            .status()
            .unwrap();
        assert!(status.success());
        let json = std::fs::read_to_string(autograder.join("results/results.json")).unwrap();
        let results: serde_json::Value = serde_json::from_str(&json).unwrap();
        scores.push(results["score"].as_u64().unwrap());
    }
    assert_eq!(scores[0], 110);
    assert!(scores[1] < 110, "{scores:?}");
}

/// A class of crates, built offline inside the sandbox from a warm start
/// (the lab's starter, built once): a student who finished the starter (the
/// lab's own code in its shape) gets full marks, and one who handed it in
/// untouched does not. The finished one's sources are older than the warm
/// start's programs, which cargo must not take for the student's. Cold
/// release builds: `just ci` runs it.
#[test]
#[ignore = "slow: builds crates from cold (just ci runs it)"]
fn a_finished_starter_crate_scores_full_marks() {
    let root = tempfile::tempdir().unwrap();
    let crates = root.path().join("class");
    let finished = crates.join("grace");
    for folder in [&finished, &crates.join("untouched")] {
        let made = labkit()
            .args(["starter", "01"])
            .arg(folder)
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", text(&made.stderr));
    }
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs/01-hello/src");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", reference.display()))
        .arg(finished.join("lab01-hello/src"))
        .status()
        .unwrap();
    assert!(copied.success());
    let output = grade_class_as("01", &crates, &["--crate", "--startup-timeout", "30"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = std::fs::read_to_string(root.path().join("grades-01/grace.txt")).unwrap();
    assert!(report.starts_with("note: built the crate in"), "{report}");
    assert!(report.contains("(100%)"), "{report}");
    let untouched = std::fs::read_to_string(root.path().join("grades-01/untouched.txt")).unwrap();
    assert!(!untouched.contains("(100%)"), "{untouched}");
}

/// Whether a gradebook `row` is `student`'s, with every point of its maximum
/// (which depends on the part handed in and on the rubric's weights).
fn full_marks(row: &str, student: &str) -> bool {
    let fields: Vec<&str> = row.split(',').collect();
    fields.len() > 3 && fields[0] == student && fields[1] == fields[2] && fields[1] != "0"
}
