//! `just lab NN`: a scripted run of a lab's real server and real client.
//!
//! The demo starts the server on a free port, runs the client one or more
//! times against it, prints every line both sides print with a label
//! (`server | …`, `client | …`), and stops the server. It shows a student
//! what a lab does before they open two terminals and try it themselves.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::labs::Lab;
use crate::process::{Server, Tee};

/// The most a demo client may take; a demo is meant to finish in seconds.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// What one lab's demo does, read from `labs/NN-name/demo.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Options for the server (the demo adds `--port 0`).
    #[serde(default)]
    pub server_args: Vec<String>,
    /// The client runs, in order.
    pub steps: Vec<Step>,
    /// Whether the server ends by itself after the last step (lab 01's does).
    #[serde(default)]
    pub server_exits_by_itself: bool,
}

/// One run of the client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A sentence printed before the run, saying what to look for.
    pub say: String,
    /// Options for the client (the demo adds `--host` and `--port`).
    #[serde(default)]
    pub client_args: Vec<String>,
    /// Text for the client's stdin, for clients that read messages from it.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Whether this run shows a mistake the client must refuse: it then has
    /// to fail (with its one error line), and the demo goes on.
    #[serde(default)]
    pub expect_failure: bool,
}

/// Reads a lab's demo scenario.
pub fn scenario(lab: &Lab) -> Result<Scenario, String> {
    let path = lab.dir().join("demo.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|err| format!("{} is not a valid demo: {err}", path.display()))
}

/// Runs `lab`'s demo with the binaries found in `bin_dir`, handing every
/// labelled line to `emit`.
pub fn run(lab: &Lab, bin_dir: &Path, emit: Tee) -> Result<(), String> {
    let scenario = scenario(lab)?;
    let server_program = bin_dir.join(lab.binary("server"));
    let client_program = bin_dir.join(lab.binary("client"));

    let mut shown = vec![lab.binary("server")];
    shown.extend(scenario.server_args.iter().cloned());
    shown.extend(["--port".to_string(), "0".to_string()]);
    emit(&format!("demo   | starting {}", shell_words(&shown)));
    let mut command = Command::new(&server_program);
    command
        .current_dir(workspace_root())
        .args(&scenario.server_args)
        .args(["--port", "0"]);
    let server_emit = Arc::clone(&emit);
    let mut server = Server::start_command_with_tee(
        command,
        Arc::new(move |line: &str| server_emit(&format!("server | {line}"))),
    )?;
    emit(&format!("server | listening on {}", server.addr()));

    for step in &scenario.steps {
        emit(&format!("demo   | {}", step.say));
        if let Some(stdin) = &step.stdin {
            emit(&format!(
                "demo   | its stdin: {}",
                stdin.lines().collect::<Vec<_>>().join(" / ")
            ));
        }
        let mut args = vec![
            "--host".to_string(),
            server.addr().ip().to_string(),
            "--port".to_string(),
            server.port(),
        ];
        args.extend(step.client_args.iter().cloned());
        let mut shown = vec![lab.binary("client")];
        shown.extend(args.iter().cloned());
        emit(&format!("demo   | running {}", shell_words(&shown)));
        let succeeded = run_client(&client_program, &args, step.stdin.as_deref(), &emit)?;
        match (succeeded, step.expect_failure) {
            (true, false) => {}
            (false, true) => emit("demo   | the server refused, as it should, and goes on serving"),
            (false, false) => return Err(format!("{} failed in the demo", lab.binary("client"))),
            (true, true) => {
                return Err(format!(
                    "{} should have refused this in the demo",
                    lab.binary("client")
                ));
            }
        }
    }

    if scenario.server_exits_by_itself {
        match server.wait_exit(Duration::from_secs(5)) {
            Some(status) if status.success() => {
                server.stop();
                emit("demo   | the server exited by itself, as lab 01's server does");
            }
            Some(status) => return Err(format!("the server exited with {status}")),
            None => return Err("the server should have exited by itself".to_string()),
        }
    } else {
        wait_until_quiet(&server);
        server.stop();
        emit("demo   | stopped the server (in a terminal, press Ctrl-C)");
    }
    Ok(())
}

/// Waits until the server has logged nothing new for a moment (at most 2 s):
/// a client's program can exit before the server logs the end of its
/// conversation, and stopping the server then would cut that line off.
fn wait_until_quiet(server: &Server) {
    let quiet = Duration::from_millis(200);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut seen = server.stderr().len();
    let mut since = std::time::Instant::now();
    while std::time::Instant::now() < deadline && since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(10));
        let now = server.stderr().len();
        if now != seen {
            (seen, since) = (now, std::time::Instant::now());
        }
    }
}

/// Writes a command line the way a student would type it, quoting where needed.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one client to completion, labelling its output; `Ok(true)` if it succeeded.
fn run_client(
    program: &Path,
    args: &[String],
    stdin: Option<&str>,
    emit: &Tee,
) -> Result<bool, String> {
    let mut child = Command::new(program)
        .current_dir(workspace_root())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("could not start {}: {err}", program.display()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|err| format!("could not write the client's stdin: {err}"))?;
    }
    let readers = [
        label_lines(child.stdout.take(), Arc::clone(emit)),
        label_lines(child.stderr.take(), Arc::clone(emit)),
    ];
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the client took longer than {CLIENT_TIMEOUT:?}"));
        }
        thread::sleep(Duration::from_millis(5));
    };
    for reader in readers.into_iter().flatten() {
        let _ = reader.join();
    }
    Ok(status.success())
}

/// Prints each line from `pipe` as `client | line`, from a thread of its own.
fn label_lines(
    pipe: Option<impl Read + Send + 'static>,
    emit: Tee,
) -> Option<thread::JoinHandle<()>> {
    let pipe = pipe?;
    Some(thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            emit(&format!("client | {line}"));
        }
    }))
}

/// The workspace's root: demos run there, so a `demo.json` names files the
/// way a student at the root types them.
fn workspace_root() -> PathBuf {
    crate::labs::labs_dir()
        .parent()
        .expect("labs/ is inside the workspace")
        .to_path_buf()
}

/// Where the book keeps the captured output of `labkit demo NN`.
pub fn transcript_path(lab: &Lab) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("labkit lives in a folder of the workspace");
    workspace
        .join("book/src/transcripts")
        .join(format!("lab{}-demo.txt", lab.number))
}

/// Runs the demo and returns its lines.
pub fn capture(lab: &Lab, bin_dir: &Path) -> Result<Vec<String>, String> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    run(
        lab,
        bin_dir,
        Arc::new(move |line: &str| {
            if let Ok(mut lines) = sink.lock() {
                lines.push(line.to_string());
            }
        }),
    )?;
    let lines = lines
        .lock()
        .map_err(|_| "a demo thread panicked".to_string())?;
    Ok(lines.clone())
}

/// Fails when the transcript in the book no longer matches what the demo prints.
///
/// Ports differ from run to run and the two sides' lines may interleave in
/// another order, so both are compared with ports masked and lines sorted:
/// any line that was added, removed or reworded still shows up.
pub fn check_transcript(lab: &Lab, bin_dir: &Path) -> Result<(), String> {
    let path = transcript_path(lab);
    let stored = std::fs::read_to_string(&path).map_err(|err| {
        format!(
            "cannot read {}: {err}; run `just transcripts`",
            path.display()
        )
    })?;
    let fresh = capture(lab, bin_dir)?;
    let comparable = |lines: Vec<&str>| {
        let mut masked: Vec<String> = lines.into_iter().map(mask_ports).collect();
        masked.sort();
        masked
    };
    if comparable(stored.lines().collect())
        != comparable(fresh.iter().map(String::as_str).collect())
    {
        return Err(format!(
            "{} is out of date; run `just transcripts` to capture it again.\nThe demo now prints:\n{}",
            path.display(),
            fresh.join("\n")
        ));
    }
    Ok(())
}

/// Replaces every port number after `IP:` with `PORT`, and the port after `--port `.
fn mask_ports(line: &str) -> String {
    let mut masked = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        masked.push(c);
        let port_follows = (c == ':' && (previous.is_ascii_digit() || previous == ']'))
            || (c == ' ' && masked.ends_with("--port "));
        if port_follows && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            masked.push_str("PORT");
        }
        previous = c;
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_masked_but_everything_else_is_kept() {
        assert_eq!(
            mask_ports("running lab01-client --host 127.0.0.1 --port 45533 'hi: 5'"),
            "running lab01-client --host 127.0.0.1 --port PORT 'hi: 5'"
        );
        assert_eq!(
            mask_ports("accepted 127.0.0.1:47248 and [::1]:80, sent 14 bytes"),
            "accepted 127.0.0.1:PORT and [::1]:PORT, sent 14 bytes"
        );
    }
}
