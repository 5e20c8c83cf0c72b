//! Packets on the wire: `tcpdump -i lo -nn` captures of real lab runs, kept as
//! transcripts for the book (`just captures`) and checked against fresh runs.
//!
//! Each capture starts the real programs on port 0, points tcpdump at their
//! ports, and rewrites those ports to the labs' defaults (8001, 9000, …) so the
//! transcript reads like the reader's own run. tcpdump needs root (or the
//! `CAP_NET_RAW` capability); where it is missing or not allowed, the capture
//! is skipped with a message, never failed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::Server;

/// How long tcpdump may take to start listening.
const TCPDUMP_START: Duration = Duration::from_secs(10);

/// How long the capture must stay quiet before it is taken to be complete.
const QUIET: Duration = Duration::from_millis(300);

/// One scenario the book shows on the wire.
pub struct Scenario {
    /// The transcript's file name in `book/src/transcripts/`.
    pub file: &'static str,
    /// What it shows, in a few words.
    pub about: &'static str,
    run: fn(&Path) -> Result<Vec<String>, Outcome>,
}

/// Why a capture did not produce a transcript.
#[derive(Debug)]
pub enum Outcome {
    /// tcpdump is missing or may not capture here: not a failure.
    Skipped(String),
    /// The programs or the capture went wrong.
    Failed(String),
}

/// Every scenario, in the order the book shows them.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            file: "wire-lab01.txt",
            about: "lab 01: handshake, one message each way, and the two FINs",
            run: lab01_conversation,
        },
        Scenario {
            file: "wire-lab02-reset.txt",
            about: "lab 02: a client closes with a reply unread, and its kernel sends RST",
            run: lab02_reset,
        },
        Scenario {
            file: "wire-lab04-merge.txt",
            about: "lab 04: three writes, merged by the proxy into one segment",
            run: lab04_merged,
        },
    ]
}

impl Scenario {
    /// Runs the scenario with the binaries in `bin_dir` and returns the
    /// transcript's lines.
    pub fn capture(&self, bin_dir: &Path) -> Result<Vec<String>, Outcome> {
        (self.run)(bin_dir)
    }
}

/// Where the book keeps a scenario's transcript.
pub fn transcript_path(scenario: &Scenario) -> PathBuf {
    crate::labs::labs_dir()
        .parent()
        .unwrap_or(Path::new("."))
        .join("book/src/transcripts")
        .join(scenario.file)
}

/// The transcript with what changes on every run (sequence numbers, windows,
/// the client's port) replaced, for comparing a fresh capture with the book.
///
/// Pure acknowledgements (flags `[.]`, no data) are left out: whether a
/// kernel acknowledges at once or along with its next segment depends on
/// timing. The segments that carry a SYN, data, a FIN or a RST must match.
pub fn normalised(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| !(line.contains("Flags [.],") && line.ends_with("length 0")))
        .map(|line| {
            let mut words: Vec<String> = Vec::new();
            for word in line.split(' ') {
                let previous = words.last().map(String::as_str);
                let replaced = if matches!(previous, Some("seq" | "ack" | "win")) {
                    "N".to_string() + if word.ends_with(',') { "," } else { "" }
                } else {
                    client_port(word)
                };
                words.push(replaced);
            }
            words.join(" ")
        })
        .collect()
}

/// `127.0.0.1.53516` (a port the kernel picked) becomes `127.0.0.1.CLIENT`.
fn client_port(word: &str) -> String {
    let (address, tail) = match word.strip_suffix(':') {
        Some(address) => (address, ":"),
        None => (word, ""),
    };
    match address.rsplit_once('.') {
        Some((ip, port)) if port.len() == 5 && port.chars().all(|c| c.is_ascii_digit()) => {
            format!("{ip}.CLIENT{tail}")
        }
        _ => word.to_string(),
    }
}

/// A running tcpdump, collecting the lines it prints.
struct Tcpdump {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Tcpdump {
    /// Starts `tcpdump -i lo -nn -t -l` on TCP port `port` (and `more`), and
    /// waits until it captures.
    fn start(port: u16, more: &str) -> Result<Tcpdump, Outcome> {
        // tcpdump says `listening on lo` a moment before its filter sees every
        // packet, so a probe datagram to the port shows when it really does.
        let filter = format!("tcp port {port}{more} or udp port {port}");
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-nn", "-t", "-l", "--immediate-mode", &filter])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Outcome::Skipped(format!("tcpdump cannot be started ({err})")))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for line in stdout.into_iter().flat_map(|s| BufReader::new(s).lines()) {
                let Ok(line) = line else { break };
                if let Ok(mut lines) = sink.lock() {
                    lines.push(line);
                }
            }
        });
        let (ready, said) = mpsc::channel();
        thread::spawn(move || {
            for line in stderr.into_iter().flat_map(|s| BufReader::new(s).lines()) {
                let Ok(line) = line else { break };
                let _ = ready.send(line);
            }
        });
        wait_until_listening(&mut child, &said)?;
        let capture = Tcpdump { child, lines };
        capture.probe(port)?;
        Ok(capture)
    }

    /// Sends datagrams to `port` until tcpdump shows one: from then on, it
    /// captures every packet.
    fn probe(&self, port: u16) -> Result<(), Outcome> {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")
            .map_err(|err| Outcome::Failed(format!("cannot open a probe socket: {err}")))?;
        let deadline = Instant::now() + TCPDUMP_START;
        while Instant::now() < deadline {
            let _ = socket.send_to(b"probe", ("127.0.0.1", port));
            thread::sleep(Duration::from_millis(50));
            if self.lines().iter().any(|line| line.contains("UDP")) {
                return Ok(());
            }
        }
        Err(Outcome::Failed(
            "tcpdump never showed the probe datagram".into(),
        ))
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Waits until tcpdump has shown `ends` segments that end a direction (FIN)
    /// or a connection (RST), then until no packet arrived for a moment (the
    /// last acknowledgements), stops tcpdump, and returns its lines.
    fn finish(mut self, ends: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ended = |lines: &[String]| {
            let closing = |line: &&String| line.contains("Flags [F") || line.contains("Flags [R");
            lines.iter().filter(closing).count() >= ends
        };
        while !ended(&self.lines()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let mut seen = usize::MAX;
        let mut since = Instant::now();
        while Instant::now() < deadline {
            let count = self.lines().len();
            if count != seen {
                (seen, since) = (count, Instant::now());
            } else if since.elapsed() >= QUIET {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // Not the probes, the kernel's "port unreachable" answers to them, or
        // the empty line tcpdump prints when it is interrupted.
        self.lines()
            .into_iter()
            .filter(|line| !line.is_empty() && !line.contains("UDP") && !line.contains("ICMP"))
            .collect()
    }
}

/// Waits for tcpdump's `listening on lo` line; its other words mean it cannot.
fn wait_until_listening(child: &mut Child, said: &Receiver<String>) -> Result<(), Outcome> {
    let deadline = Instant::now() + TCPDUMP_START;
    let mut heard = Vec::new();
    while Instant::now() < deadline {
        match said.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.starts_with("listening on") => return Ok(()),
            Ok(line) => heard.push(line),
            Err(_) => {
                if let Ok(Some(_)) = child.try_wait() {
                    heard.extend(said.try_iter());
                    return Err(Outcome::Skipped(format!(
                        "tcpdump may not capture here (it needs root or CAP_NET_RAW): {}",
                        heard.join(" ")
                    )));
                }
            }
        }
    }
    let _ = child.kill();
    Err(Outcome::Failed("tcpdump did not start listening".into()))
}

/// tcpdump's line, shortened for the book: no `IP `, no TCP options, and the
/// ports the kernel gave our servers shown as the labs' default ports.
fn tidy(line: &str, ports: &[(u16, u16)]) -> String {
    let mut line = line.strip_prefix("IP ").unwrap_or(line).to_string();
    if let Some(start) = line.find(", options [") {
        if let Some(end) = line[start..].find(']') {
            line.replace_range(start..start + end + 1, "");
        }
    }
    for (real, shown) in ports {
        for tail in [" ", ":"] {
            line = line.replace(&format!(".{real}{tail}"), &format!(".{shown}{tail}"));
        }
    }
    line
}

/// A program of the scenario that did not start is the capture's failure.
fn failed(err: String) -> Outcome {
    Outcome::Failed(err)
}

/// Lab 01: one client says `hello`, the server answers and closes first.
fn lab01_conversation(bin_dir: &Path) -> Result<Vec<String>, Outcome> {
    let mut server = Server::start(bin_dir.join("lab01-server"), [""; 0]).map_err(failed)?;
    let port = server.addr().port();
    let capture = Tcpdump::start(port, "")?;
    run(Command::new(bin_dir.join("lab01-client")).args(["--port", &port.to_string(), "hello"]))?;
    server.wait_exit(Duration::from_secs(10));
    Ok(tidied(capture.finish(2), &[(port, 8001)]))
}

/// Lab 02: a client sends `bye`, waits until the reply has arrived, and closes
/// without reading it; its kernel resets the connection.
fn lab02_reset(bin_dir: &Path) -> Result<Vec<String>, Outcome> {
    let server = Server::start(bin_dir.join("lab02-server"), [""; 0]).map_err(failed)?;
    let port = server.addr().port();
    let capture = Tcpdump::start(port, "")?;
    // It waits until the reply is there to be read (select), so that it
    // surely closes with unread data, however busy the machine is.
    let script = format!(
        "import select, socket; s = socket.create_connection(('127.0.0.1', {port})); \
         s.sendall(b'bye'); select.select([s], [], [], 10); s.close()"
    );
    run(Command::new("python3").args(["-c", &script]))?;
    server.wait_for_stderr("reset the connection", Duration::from_secs(10));
    Ok(tidied(capture.finish(1), &[(port, 8002)]))
}

/// Lab 04: the client writes `one`, `two`, `three` with Nagle off; the proxy
/// gathers them for 200 ms and writes them to the server as one.
fn lab04_merged(bin_dir: &Path) -> Result<Vec<String>, Outcome> {
    let server = Server::start(bin_dir.join("lab04-server"), ["--quiet"]).map_err(failed)?;
    let port = server.addr().port();
    let to = server.addr().to_string();
    let proxy = Server::start(
        bin_dir.join("labkit"),
        ["proxy", "--to", &to, "--cut", "merge", "--delay-ms", "200"],
    )
    .map_err(failed)?;
    let proxy_port = proxy.addr().port();
    let capture = Tcpdump::start(port, &format!(" or tcp port {proxy_port}"))?;
    run(Command::new(bin_dir.join("lab04-client")).args([
        "--port",
        &proxy_port.to_string(),
        "--nodelay",
        "one",
        "two",
        "three",
    ]))?;
    Ok(tidied(
        capture.finish(4),
        &[(port, 8004), (proxy_port, 9000)],
    ))
}

/// The tidied lines, one connection after another (in the order they
/// started, a blank line between two), so that each conversation reads in
/// order whatever the timing between them was.
fn tidied(lines: Vec<String>, ports: &[(u16, u16)]) -> Vec<String> {
    let mut connections: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for line in lines.iter().map(|line| tidy(line, ports)) {
        let mut ends: Vec<String> = line
            .split(' ')
            .take(3)
            .filter(|word| *word != ">")
            .map(|word| word.trim_end_matches(':').to_string())
            .collect();
        ends.sort();
        match connections.iter_mut().find(|(key, _)| *key == ends) {
            Some((_, packets)) => packets.push(line),
            None => connections.push((ends, vec![line])),
        }
    }
    let mut out = Vec::new();
    for (_, packets) in connections {
        if !out.is_empty() {
            out.push(String::new());
        }
        out.extend(packets);
    }
    out
}

/// Runs a client to its end; a failure is the scenario's failure.
fn run(command: &mut Command) -> Result<(), Outcome> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| Outcome::Failed(format!("cannot start {command:?}: {err}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Outcome::Failed(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_tidied_and_normalised_for_the_book() {
        let line = "IP 127.0.0.1.53516 > 127.0.0.1.40001: Flags [S], seq 2800198669, win 65495, \
                    options [mss 65495,sackOK,TS val 4133159223 ecr 0,nop,wscale 10], length 0";
        let tidy = tidy(line, &[(40001, 8001)]);
        assert_eq!(
            tidy,
            "127.0.0.1.53516 > 127.0.0.1.8001: Flags [S], seq 2800198669, win 65495, length 0"
        );
        let ack = "127.0.0.1.8001 > 127.0.0.1.53516: Flags [.], ack 1, win 64, length 0";
        assert_eq!(
            normalised(&[tidy, ack.to_string()]),
            vec!["127.0.0.1.CLIENT > 127.0.0.1.8001: Flags [S], seq N, win N, length 0"]
        );
    }
}
