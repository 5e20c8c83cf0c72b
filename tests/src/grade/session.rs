//! What a check can do, each step bounded in time and written to a transcript.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::{Server, Tee};
use crate::proxy::{Cut, Recut};

use super::Subject;

/// How long a server may take to print its listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the grader waits for a reply before it calls it missing.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a check failed: what it expected, what it saw, and, for the common
/// cases, a diagnosis in plain words.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What a correct program does.
    pub expected: String,
    /// What this one did.
    pub seen: String,
    /// The likely cause, when the grader can tell.
    pub diagnosis: Option<String>,
    /// Whether the check could not run here at all (it needs Linux, say):
    /// no points, but no fault found either.
    pub skipped: bool,
}

impl Finding {
    /// A finding without a diagnosis.
    pub fn new(expected: impl Into<String>, seen: impl Into<String>) -> Finding {
        Finding {
            expected: expected.into(),
            seen: seen.into(),
            diagnosis: None,
            skipped: false,
        }
    }

    /// A check that could not run on this machine: `missing` is what it
    /// needs, `how` says where to run it instead. It earns no points.
    pub fn skipped(missing: impl Into<String>, how: impl Into<String>) -> Finding {
        Finding {
            expected: missing.into(),
            seen: "not here: the check was skipped".to_string(),
            diagnosis: Some(how.into()),
            skipped: true,
        }
    }

    /// Adds the likely cause.
    pub fn diagnosis(mut self, diagnosis: impl Into<String>) -> Finding {
        self.diagnosis = Some(diagnosis.into());
        self
    }
}

/// What a client run produced.
#[derive(Debug)]
pub struct ClientRun {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// The state of one check: the programs it started and its transcript.
pub struct Session {
    subject: Subject,
    reference: Subject,
    transcript: Arc<Mutex<Vec<String>>>,
    servers: Vec<Server>,
    /// For labs whose server serves a folder: the option that names it
    /// (`--root`) and a scratch folder to give servers that were not given
    /// one, so that no check makes a folder where the grader happens to run.
    folder: Option<(&'static str, tempfile::TempDir)>,
    /// How long a server may take to print its listening line.
    startup_timeout: Duration,
}

impl Session {
    /// A fresh session for one check.
    pub fn new(subject: Subject, reference: Subject) -> Session {
        Session {
            subject,
            reference,
            transcript: Arc::new(Mutex::new(Vec::new())),
            servers: Vec::new(),
            folder: None,
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    /// Allows servers `timeout` to print their listening line. The suite's
    /// own tests grade many programs at once on a small machine, where a
    /// Python server can take longer than [`STARTUP_TIMEOUT`] just to start.
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Session {
        self.startup_timeout = timeout;
        self
    }

    /// Gives every server started without `option` (such as `--root`) a
    /// scratch folder of this check's own.
    pub fn with_server_folder(mut self, option: &'static str) -> Session {
        self.folder = tempfile::Builder::new()
            .prefix("labkit-scratch-")
            .tempdir()
            .ok()
            .map(|dir| (option, dir));
        self
    }

    /// A session for a helper thread of a check: it can talk to programs
    /// the check already started, and its notes go nowhere (many threads
    /// writing at once would only make the transcript unreadable).
    pub fn detached() -> Session {
        let nobody = Subject {
            server: String::new(),
            client: String::new(),
        };
        Session::new(nobody.clone(), nobody)
    }

    /// Adds a `[grader] …` line to the transcript.
    pub fn note(&self, line: impl AsRef<str>) {
        self.push(format!("[grader] {}", line.as_ref()));
    }

    fn push(&self, line: String) {
        if let Ok(mut transcript) = self.transcript.lock() {
            transcript.push(line);
        }
    }

    /// Stops every program the check started and returns the transcript.
    pub fn finish(mut self) -> Vec<String> {
        let servers = std::mem::take(&mut self.servers);
        for mut server in servers {
            // A server that ended by itself explains many failures at once.
            if let Some(status) = server.wait_exit(Duration::ZERO) {
                self.note(format!("the server had exited by itself ({status})"));
            }
            server.stop();
        }
        self.transcript
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Starts the student's server with `args` and `--port 0`, and returns
    /// the address from its listening line.
    pub fn start_server(&mut self, args: &[&str]) -> Result<SocketAddr, Finding> {
        let command = self.subject.server.clone();
        self.start(&command, args, "server")
    }

    /// Starts our reference server, for checks of the student's client.
    pub fn start_reference_server(&mut self, args: &[&str]) -> Result<SocketAddr, Finding> {
        let command = self.reference.server.clone();
        self.start(&command, args, "reference server")
    }

    fn start(&mut self, command: &str, args: &[&str], who: &str) -> Result<SocketAddr, Finding> {
        let scratch = self.scratch_folder_args(args);
        let mut full: Vec<&str> = args.to_vec();
        full.extend(scratch.iter().map(String::as_str));
        full.extend(["--port", "0"]);
        self.note(format!("starting: {}", shown(command, &full)));
        let transcript = Arc::clone(&self.transcript);
        let label = format!("[{who}] ");
        let tee: Tee = Arc::new(move |line: &str| {
            if let Ok(mut lines) = transcript.lock() {
                lines.push(format!("{label}{line}"));
            }
        });
        let startup_timeout = self.startup_timeout;
        match Server::start_command_with(shell(command, &full), tee, startup_timeout) {
            Ok(server) => {
                let addr = server.addr();
                self.note(format!("{who} is listening on {addr}"));
                self.servers.push(server);
                Ok(addr)
            }
            Err(problem) => Err(Finding::new(
                format!("the {who} prints `listening on IP:PORT` within {startup_timeout:?}"),
                problem.clone(),
            )
            .diagnosis(if problem.contains("exited") {
                format!("the {who} exited before it printed its listening line")
            } else if problem.contains("first stdout line") {
                "the first line on stdout must be exactly `listening on IP:PORT` (log to stderr)"
                    .to_string()
            } else {
                "no listening line: is it printed, and flushed? (stdout to a pipe is buffered)"
                    .to_string()
            })),
        }
    }

    /// Runs the student's client with `--host`/`--port` of `server` and `args`,
    /// feeding it `stdin`, for at most `timeout`.
    pub fn run_client(
        &self,
        server: SocketAddr,
        args: &[&str],
        stdin: &str,
        timeout: Duration,
    ) -> Result<ClientRun, Finding> {
        let host = server.ip().to_string();
        let port = server.port().to_string();
        let mut full = vec!["--host", host.as_str(), "--port", port.as_str()];
        full.extend_from_slice(args);
        self.run_client_with(&full, stdin, timeout)
    }

    /// Runs the student's client with exactly `args`.
    pub fn run_client_with(
        &self,
        args: &[&str],
        stdin: &str,
        timeout: Duration,
    ) -> Result<ClientRun, Finding> {
        let command = self.subject.client.clone();
        self.run_once(&command, args, stdin, timeout, "client")
    }

    /// Runs the student's server with exactly `args` (and a scratch folder if
    /// its lab needs one), expecting it to exit by itself (a server that
    /// cannot bind, say).
    pub fn run_server_once(&self, args: &[&str], timeout: Duration) -> Result<ClientRun, Finding> {
        let command = self.subject.server.clone();
        let scratch = self.scratch_folder_args(args);
        let mut full: Vec<&str> = args.to_vec();
        full.extend(scratch.iter().map(String::as_str));
        self.run_once(&command, &full, "", timeout, "second server")
    }

    /// `--root SCRATCH` when this lab's servers need a folder and `args` names none.
    fn scratch_folder_args(&self, args: &[&str]) -> Vec<String> {
        match &self.folder {
            Some((option, dir)) if !args.contains(option) => {
                vec![
                    option.to_string(),
                    dir.path().to_string_lossy().into_owned(),
                ]
            }
            _ => Vec::new(),
        }
    }

    fn run_once(
        &self,
        program: &str,
        args: &[&str],
        stdin: &str,
        timeout: Duration,
        who: &str,
    ) -> Result<ClientRun, Finding> {
        self.note(format!("running: {}", shown(program, args)));
        let mut command = shell(program, args);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let output = assert_cmd::Command::from_std(command)
            .write_stdin(stdin.as_bytes().to_vec())
            .timeout(timeout)
            .output()
            .map_err(|err| {
                Finding::new(
                    format!("the {who} runs"),
                    format!("it could not start: {err}"),
                )
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        for line in stdout.lines().take(200) {
            self.push(format!("[{who}] {line}"));
        }
        for line in stderr.lines().take(200) {
            self.push(format!("[{who} stderr] {line}"));
        }
        // assert_cmd kills a client that runs past its timeout; it then has
        // no exit code.
        if output.status.code().is_none() {
            return Err(Finding::new(
                format!("the {who} finishes within {timeout:?}"),
                "it was still running and was stopped",
            )
            .diagnosis(format!(
                "the {who} did not finish within {} s: is it waiting for something that never comes?",
                timeout.as_secs_f64()
            )));
        }
        Ok(ClientRun {
            success: output.status.success(),
            stdout,
            stderr,
        })
    }

    /// The process id of the server this check started on `addr`.
    pub fn server_pid(&self, addr: SocketAddr) -> Option<u32> {
        self.servers
            .iter()
            .find(|server| server.addr() == addr)
            .map(Server::pid)
    }

    /// A TCP connection of the grader's own, with timeouts on every read.
    pub fn connect(&self, server: SocketAddr) -> Result<TcpStream, Finding> {
        let stream = TcpStream::connect_timeout(&server, REPLY_TIMEOUT).map_err(|err| {
            Finding::new(
                format!("the server accepts a connection on {server}"),
                err.to_string(),
            )
        })?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(REPLY_TIMEOUT)))
            .map_err(|err| Finding::new("timeouts can be set", err.to_string()))?;
        Ok(stream)
    }

    /// Sends `message` on `stream` and reads exactly `expected.len()` bytes,
    /// comparing them with `expected`.
    pub fn exchange(
        &self,
        stream: &mut TcpStream,
        message: &[u8],
        expected: &[u8],
    ) -> Result<(), Finding> {
        self.note(format!(
            "sending {} bytes: {:?}",
            message.len(),
            preview(message)
        ));
        stream
            .write_all(message)
            .map_err(|err| Finding::new("the message can be sent", err.to_string()))?;
        let reply = read_exactly(stream, expected.len()).map_err(|seen| {
            Finding::new(
                format!("the reply {:?}", preview(expected)),
                seen.describe(),
            )
            .diagnosis(seen.diagnosis())
        })?;
        if reply != expected {
            return Err(Finding::new(
                format!("the reply {:?}", preview(expected)),
                format!("{:?}", preview(&reply)),
            ));
        }
        self.note(format!("got the expected reply {:?}", preview(expected)));
        Ok(())
    }

    /// A listener of the grader's own on a free port of 127.0.0.1, for a
    /// proxy or for a peer the grader plays itself (a server whose replies
    /// are damaged on purpose, say).
    pub fn listen_as_grader(&self) -> Result<(std::net::TcpListener, SocketAddr), Finding> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|err| Finding::new("a port for the grader", err.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|err| Finding::new("the grader's own address", err.to_string()))?;
        Ok((listener, addr))
    }

    /// Starts a re-cutting proxy in front of `target` and returns its address:
    /// connect there instead, and every byte arrives cut as `cut` says, with
    /// `pause` after each piece (for merge: the time it gathers writes).
    ///
    /// The pause is what makes the cut certain: pieces written back to back
    /// may still be read together by a reader that is a little late.
    pub fn proxy(
        &self,
        target: SocketAddr,
        cut: Cut,
        pause: Duration,
    ) -> Result<SocketAddr, Finding> {
        self.proxy_cutting_heads(target, cut, pause, usize::MAX)
    }

    /// A proxy like [`Session::proxy`] that cuts only the first `head` bytes
    /// of each message (what one side sends before the other answers) and
    /// passes the rest on as it comes: every request and reply header still
    /// arrives in paced pieces, and a file of megabytes does not take minutes.
    pub fn proxy_cutting_heads(
        &self,
        target: SocketAddr,
        cut: Cut,
        pause: Duration,
        head: usize,
    ) -> Result<SocketAddr, Finding> {
        let (listener, addr) = self.listen_as_grader()?;
        let recut = Recut {
            cut,
            max_chunk: 5,
            delay: pause,
            cut_head: head,
            seed: 2026,
            log_errors: false,
        };
        let what = if head == usize::MAX {
            format!("{cut:?}")
        } else {
            format!("{cut:?}, the first {head} bytes of each message")
        };
        self.note(format!(
            "a proxy on {addr} relays to {target}, cutting the stream: {what}, {} ms after each piece",
            pause.as_millis()
        ));
        // The proxy thread lives as long as the grader process; it only
        // waits in accept, and a fresh one is made for each check.
        std::thread::spawn(move || crate::proxy::serve(&listener, target, recut));
        Ok(addr)
    }

    /// A UDP socket of the grader's own, with a receive timeout.
    pub fn udp_socket(&self) -> Result<UdpSocket, Finding> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .map_err(|err| Finding::new("a UDP socket", err.to_string()))?;
        socket
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|err| Finding::new("a receive timeout", err.to_string()))?;
        Ok(socket)
    }
}

/// How a read of an expected reply fell short (`received` of `wanted` bytes).
#[allow(missing_docs, reason = "the fields are named for what they count")]
pub enum ShortRead {
    /// Nothing, or not all, arrived in time.
    Timeout { received: usize, wanted: usize },
    /// The peer closed the connection early.
    Closed { received: usize, wanted: usize },
    /// The connection failed.
    Failed(io::Error),
}

impl std::fmt::Display for ShortRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ShortRead {
    fn describe(&self) -> String {
        match self {
            ShortRead::Timeout { received, wanted } => {
                format!("{received} of {wanted} bytes within {REPLY_TIMEOUT:?}")
            }
            ShortRead::Closed { received, wanted } => {
                format!("the connection closed after {received} of {wanted} bytes")
            }
            ShortRead::Failed(err) => format!("the connection failed: {err}"),
        }
    }

    /// The likely cause, in plain words.
    pub fn diagnosis(&self) -> String {
        match self {
            ShortRead::Timeout { received: 0, .. } => {
                format!("no reply within {} s", REPLY_TIMEOUT.as_secs())
            }
            ShortRead::Timeout { received, .. } => format!(
                "the reply was cut after {received} bytes (is one read treated as the whole message?)"
            ),
            ShortRead::Closed { received: 0, .. } => {
                "the server closed the connection without replying".to_string()
            }
            ShortRead::Closed { received, .. } => {
                format!(
                    "the reply was cut after {received} bytes, then the server closed the connection"
                )
            }
            ShortRead::Failed(err) if err.kind() == io::ErrorKind::ConnectionReset => {
                "the server reset the connection (did it crash, or close with unread data?)"
                    .to_string()
            }
            ShortRead::Failed(_) => "the connection broke".to_string(),
        }
    }
}

/// Reads exactly `wanted` bytes, or says how it fell short.
pub fn read_exactly(stream: &mut TcpStream, wanted: usize) -> Result<Vec<u8>, ShortRead> {
    let mut reply = vec![0; wanted];
    let mut received = 0;
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while received < wanted {
        match stream.read(&mut reply[received..]) {
            Ok(0) => return Err(ShortRead::Closed { received, wanted }),
            Ok(n) => received += n,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ShortRead::Timeout { received, wanted });
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(ShortRead::Failed(err)),
        }
        if Instant::now() > deadline {
            return Err(ShortRead::Timeout { received, wanted });
        }
    }
    Ok(reply)
}

/// `sh -c 'exec COMMAND "$@"' sh ARGS…`: the student's command line, with our
/// arguments appended and quoted safely.
fn shell(command: &str, args: &[&str]) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("exec {command} \"$@\""))
        .arg("sh")
        .args(args)
        .stdin(Stdio::piped());
    shell
}

/// The command line as a person would type it.
fn shown(command: &str, args: &[&str]) -> String {
    let mut words = vec![command.to_string()];
    words.extend(args.iter().map(|arg| super::shell_quote(arg)));
    words.join(" ")
}

/// Text for a transcript: the bytes as text, shortened when long.
pub fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > 60 {
        format!(
            "{}… ({} bytes)",
            text.chars().take(60).collect::<String>(),
            bytes.len()
        )
    } else {
        text.into_owned()
    }
}
