//! What a check can do, each step bounded in time and written to a transcript.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::process::{Server, StartError, Tee};
use crate::proxy::{Cut, Recut};

use super::Subject;
use super::bounded::{self, Ending};

/// How long a server may take to print its listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the grader waits for a reply before it calls it missing.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause between the pieces of a reply the grader cuts on purpose (see
/// [`write_in_pieces`]): long enough for the reader to be scheduled and take
/// the first piece on a busy machine, short enough to keep a check quick.
pub const PIECE_PAUSE: Duration = Duration::from_millis(500);

/// How long one whole reply may take to arrive while it keeps flowing.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(20);

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

    /// Says whose bytes the finding is about, before what was expected
    /// (`the client's request: `).
    pub fn about(mut self, whose: &str) -> Finding {
        self.expected = format!("{whose}{}", self.expected);
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

impl ClientRun {
    /// What a report shows of this run: its stdout, its exit status and the
    /// last line of its stderr (usually its `error:` line).
    pub fn seen(&self) -> String {
        format!(
            "stdout {:?}, {}: {}",
            preview(self.stdout.as_bytes()),
            if self.success {
                "exit status 0"
            } else {
                "a non-zero exit status"
            },
            super::contract::last_line(&self.stderr)
        )
    }
}

/// The state of one check: the programs it started and its transcript.
pub struct Session {
    subject: Subject,
    reference: Subject,
    shared: Arc<Shared>,
    /// For labs whose server serves a folder: the option that names it
    /// (`--root`) and a scratch folder to give servers that were not given
    /// one, so that no check makes a folder where the grader happens to run.
    folder: Option<(&'static str, tempfile::TempDir)>,
    /// How long a server may take to print its listening line.
    startup_timeout: Duration,
}

/// What a check's session shares with the grader that runs the check: the
/// grader can stop a check that runs past its time limit from outside.
struct Shared {
    transcript: Mutex<Vec<String>>,
    servers: Mutex<Vec<Server>>,
    /// Set when the check's time is up: every program it started is
    /// stopped, and it may start no more.
    cancelled: AtomicBool,
}

/// A handle on a running check, for the grader that runs it.
pub struct Cancel(Arc<Shared>);

impl Cancel {
    /// Ends the check's programs now (servers and a running client), and
    /// returns its transcript so far.
    pub fn cancel(&self) -> Vec<String> {
        self.0.cancelled.store(true, Ordering::Relaxed);
        let servers = self
            .0
            .servers
            .lock()
            .map(|mut servers| std::mem::take(&mut *servers))
            .unwrap_or_default();
        for server in servers {
            server.stop();
        }
        self.0
            .transcript
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }
}

impl Session {
    /// A fresh session for one check.
    pub fn new(subject: Subject, reference: Subject) -> Session {
        Session {
            subject,
            reference,
            shared: Arc::new(Shared {
                transcript: Mutex::new(Vec::new()),
                servers: Mutex::new(Vec::new()),
                cancelled: AtomicBool::new(false),
            }),
            folder: None,
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    /// `base` plus the extra time this session allows a program to start:
    /// what a client, which starts afresh on each run, is given.
    pub fn patient(&self, base: Duration) -> Duration {
        base + self.startup_timeout.saturating_sub(STARTUP_TIMEOUT)
    }

    /// A handle that stops this session's check from outside.
    pub fn cancel_handle(&self) -> Cancel {
        Cancel(Arc::clone(&self.shared))
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
        if let Ok(mut transcript) = self.shared.transcript.lock() {
            transcript.push(line);
        }
    }

    /// Stops every program the check started and returns the transcript.
    pub fn finish(self) -> Vec<String> {
        let servers = self
            .shared
            .servers
            .lock()
            .map(|mut servers| std::mem::take(&mut *servers))
            .unwrap_or_default();
        for mut server in servers {
            // A server that ended by itself explains many failures at once.
            if let Some(status) = server.wait_exit(Duration::ZERO) {
                self.note(format!("the server had exited by itself ({status})"));
            }
            server.stop();
        }
        self.shared
            .transcript
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

    /// The process id of the server this session started on `addr`, to read
    /// what the operating system says about it (`/proc/PID/…` on Linux).
    pub fn server_pid(&self, addr: SocketAddr) -> Option<u32> {
        let servers = self.shared.servers.lock().ok()?;
        servers
            .iter()
            .find(|server| server.addr() == addr)
            .map(Server::pid)
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
        let shared = Arc::clone(&self.shared);
        let label = format!("[{who}] ");
        let tee: Tee = Arc::new(move |line: &str| {
            if let Ok(mut lines) = shared.transcript.lock() {
                lines.push(format!("{label}{line}"));
            }
        });
        let startup_timeout = self.startup_timeout;
        match Server::start_command_with(shell(command, &full), tee, startup_timeout) {
            Ok(server) => {
                let addr = server.addr();
                self.note(format!("{who} is listening on {addr}"));
                match self.shared.servers.lock() {
                    Ok(mut servers) if !self.shared.cancelled.load(Ordering::Relaxed) => {
                        servers.push(server);
                        Ok(addr)
                    }
                    // The check's time is up: nobody would stop this server.
                    _ => {
                        server.stop();
                        Err(Finding::new("the check runs", "its time was up"))
                    }
                }
            }
            Err(problem) => Err(no_listening_line(who, &problem)),
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
        self.run_client_fed(server, args, stdin.as_bytes().into(), timeout)
    }

    /// Runs the student's client with exactly `args`.
    pub fn run_client_with(
        &self,
        args: &[&str],
        stdin: &str,
        timeout: Duration,
    ) -> Result<ClientRun, Finding> {
        let command = self.subject.client.clone();
        self.run_once(&command, args, stdin.as_bytes().into(), timeout, "client")
    }

    /// Runs the student's client against `server` with `args`, giving it
    /// `now` on stdin at once and `later` only when `gate` opens.
    pub fn run_client_gated(
        &self,
        server: SocketAddr,
        args: &[&str],
        (now, gate, later): (&str, mpsc::Receiver<()>, &str),
        timeout: Duration,
    ) -> Result<ClientRun, Finding> {
        let stdin = bounded::Input {
            now: now.as_bytes().to_vec(),
            later: Some((gate, later.as_bytes().to_vec())),
        };
        self.run_client_fed(server, args, stdin, timeout)
    }

    /// Runs the student's client with `--host`/`--port` of `server` and
    /// `args`, with `stdin` as its input.
    fn run_client_fed(
        &self,
        server: SocketAddr,
        args: &[&str],
        stdin: bounded::Input,
        timeout: Duration,
    ) -> Result<ClientRun, Finding> {
        let endpoint = endpoint_args(server);
        let full: Vec<&str> = endpoint
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect();
        let command = self.subject.client.clone();
        self.run_once(&command, &full, stdin, timeout, "client")
    }

    /// Runs the student's server with exactly `args` (and a scratch folder if
    /// its lab needs one), expecting it to exit by itself (a server that
    /// cannot bind, say).
    pub fn run_server_once(&self, args: &[&str], timeout: Duration) -> Result<ClientRun, Finding> {
        let command = self.subject.server.clone();
        let scratch = self.scratch_folder_args(args);
        let mut full: Vec<&str> = args.to_vec();
        full.extend(scratch.iter().map(String::as_str));
        self.run_once(
            &command,
            &full,
            b"".as_slice().into(),
            timeout,
            "second server",
        )
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
        stdin: bounded::Input,
        timeout: Duration,
        who: &str,
    ) -> Result<ClientRun, Finding> {
        self.note(format!("running: {}", shown(program, args)));
        let timeout = self.patient(timeout);
        let run = bounded::run(shell(program, args), stdin, timeout, &self.shared.cancelled)
            .map_err(|err| {
                Finding::new(
                    format!("the {who} runs"),
                    format!("it could not start: {err}"),
                )
            })?;
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        for line in stdout.lines().take(200) {
            self.push(format!("[{who}] {}", shortened(line)));
        }
        for line in stderr.lines().take(200) {
            self.push(format!("[{who} stderr] {}", shortened(line)));
        }
        match run.ending {
            Ending::Exited(status) => Ok(ClientRun {
                success: status.success(),
                stdout,
                stderr,
            }),
            Ending::TimedOut => Err(Finding::new(
                format!("the {who} finishes within {} s", timeout.as_secs_f64()),
                format!(
                    "it was still running after {} s and was stopped",
                    timeout.as_secs_f64()
                ),
            )
            .diagnosis(format!(
                "the {who} did not finish: is it waiting for something that never comes?"
            ))),
            Ending::Cancelled => Err(Finding::new(
                format!("the {who} finishes"),
                "it was stopped when the check's time was up",
            )),
        }
    }

    /// A TCP connection of the grader's own, with timeouts on every read.
    pub fn connect(&self, server: SocketAddr) -> Result<TcpStream, Finding> {
        let stream = TcpStream::connect_timeout(&server, REPLY_TIMEOUT).map_err(|err| {
            let finding = Finding::new(
                format!("the server accepts a connection on {server}"),
                connect_failure(&err),
            );
            match self.server_exit() {
                Some(exit) => finding.diagnosis(format!("the server has {exit}")),
                None if err.kind() == io::ErrorKind::ConnectionRefused => finding.diagnosis(
                    "the server is running but nothing listens on the address its listening line gave: \
                     print the address the socket is really bound to",
                ),
                None => finding,
            }
        })?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(REPLY_TIMEOUT)))
            .map_err(|err| Finding::new("timeouts can be set", err.to_string()))?;
        Ok(stream)
    }

    /// Writes all of `bytes` (`what` they are) on `stream`, or says in plain
    /// words why they could not be sent.
    pub fn send(&self, stream: &mut TcpStream, bytes: &[u8], what: &str) -> Result<(), Finding> {
        stream.write_all(bytes).map_err(|err| {
            let finding = Finding::new(format!("{what} can be sent"), write_failure(&err));
            self.explain_exit(finding)
        })
    }

    /// How the first of this check's servers to have exited by itself ended
    /// (`exited (exit status: 1)`), if one has: that explains most failures.
    pub fn server_exit(&self) -> Option<String> {
        let mut servers = self.shared.servers.lock().ok()?;
        servers
            .iter_mut()
            .find_map(|server| server.wait_exit(Duration::ZERO))
            .map(|status| format!("exited by itself ({status})"))
    }

    /// Adds to `finding` that the server has exited, when it has.
    pub fn explain_exit(&self, finding: Finding) -> Finding {
        match self.server_exit() {
            Some(exit) => {
                let before = finding.diagnosis.clone();
                finding.diagnosis(match before {
                    Some(before) => format!("{before}; the server has {exit}"),
                    None => format!("the server has {exit}: did it crash? its stderr is below"),
                })
            }
            None => finding,
        }
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
        self.send(stream, message, "the message")?;
        let reply = read_exactly(stream, expected.len()).map_err(|seen| {
            self.explain_exit(
                Finding::new(
                    format!("the reply {:?}", preview(expected)),
                    seen.describe(),
                )
                .diagnosis(seen.diagnosis()),
            )
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
    pub fn listen_as_grader(&self) -> Result<(TcpListener, SocketAddr), Finding> {
        let listener = TcpListener::bind("127.0.0.1:0")
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

    /// A UDP socket of the grader's and the address it is bound to: the
    /// grader plays a server there, for a client to send to.
    pub fn udp_peer(&self) -> Result<(UdpSocket, SocketAddr), Finding> {
        let socket = self.udp_socket()?;
        let addr = socket
            .local_addr()
            .map_err(|err| Finding::new("a bound UDP socket", err.to_string()))?;
        Ok((socket, addr))
    }
}

/// The contract's `--host IP --port PORT` that point a client at `server`.
fn endpoint_args(server: SocketAddr) -> [String; 4] {
    [
        "--host".to_string(),
        server.ip().to_string(),
        "--port".to_string(),
        server.port().to_string(),
    ]
}

/// How a read of an expected reply fell short (`received` of `wanted` bytes).
#[allow(missing_docs, reason = "the fields are named for what they count")]
pub enum ShortRead {
    /// Nothing, or not all, arrived in time.
    Timeout {
        received: usize,
        wanted: usize,
        /// How long the silence lasted: the stream's read timeout.
        silence: Duration,
    },
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
            ShortRead::Timeout {
                received: 0,
                silence,
                ..
            } => {
                format!("nothing within {} s", silence.as_secs())
            }
            ShortRead::Timeout {
                received, wanted, ..
            } => {
                format!("{received} of {wanted} bytes, then nothing more in time")
            }
            ShortRead::Closed { received, wanted } => {
                format!("the connection closed after {received} of {wanted} bytes")
            }
            ShortRead::Failed(err) => read_failure(err),
        }
    }

    /// The likely cause, in plain words.
    pub fn diagnosis(&self) -> String {
        match self {
            ShortRead::Timeout {
                received: 0,
                silence,
                ..
            } => format!(
                "no reply within {} s: the server accepted the connection but sent nothing",
                silence.as_secs()
            ),
            ShortRead::Timeout { received, .. } => format!(
                "the reply stopped after {received} bytes: is the rest never sent, or was one \
                 read taken for the whole message?"
            ),
            ShortRead::Closed { received: 0, .. } => {
                "the server closed the connection without replying".to_string()
            }
            ShortRead::Closed { received, .. } => {
                format!(
                    "the reply was cut after {received} bytes, then the server closed the connection"
                )
            }
            ShortRead::Failed(err) => read_failure(err),
        }
    }
}

/// Why a connection could not be made, in plain words.
pub fn connect_failure(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            "the connection was refused: nothing listens there".to_string()
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "no answer to the connection request within {} s: the server's backlog may be full",
            REPLY_TIMEOUT.as_secs()
        ),
        _ => connection_failure(err),
    }
}

/// Why bytes could not be read, in plain words.
pub fn read_failure(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "nothing arrived within {} s: the other side accepted the connection but sent nothing more",
            REPLY_TIMEOUT.as_secs()
        ),
        _ => connection_failure(err),
    }
}

/// Why bytes could not be written, in plain words.
pub fn write_failure(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "the bytes could not be sent within {} s: the other side is not reading them",
            REPLY_TIMEOUT.as_secs()
        ),
        _ => connection_failure(err),
    }
}

/// What a broken connection means, for the errors reads and writes share.
fn connection_failure(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionReset => "the other side reset the connection: it crashed, or \
             closed its socket with bytes still unread"
            .to_string(),
        // A half-close after the other side reset the connection: it had
        // closed while bytes were still coming.
        io::ErrorKind::BrokenPipe | io::ErrorKind::NotConnected => {
            "the other side had already closed the connection".to_string()
        }
        io::ErrorKind::ConnectionAborted => "the connection was aborted".to_string(),
        io::ErrorKind::UnexpectedEof => "the connection ended early".to_string(),
        // Rare: the system's own words are the best there are.
        _ => format!("the connection failed (the system says: {err})"),
    }
}

/// Says which promise of the contract a server broke when it did not get
/// as far as its listening line, and what to do about it.
fn no_listening_line(who: &str, problem: &StartError) -> Finding {
    let expected = format!("the {who} prints `listening on IP:PORT` as its first stdout line");
    match problem {
        StartError::Spawn { error, .. } => Finding::new(
            expected,
            format!("the command could not be started: {error}"),
        )
        .diagnosis("check the command given to the grader"),
        StartError::Exited { status, stderr, .. } => {
            let how = status.map_or("exited".to_string(), |status| format!("exited ({status})"));
            let said = stderr
                .last()
                .map_or("nothing on stderr".to_string(), |line| {
                    format!("its last stderr line: {line}")
                });
            let finding = Finding::new(
                expected,
                format!("it {how} before printing anything on stdout; {said}"),
            );
            if stderr
                .iter()
                .any(|line| line.to_lowercase().contains("in use"))
            {
                finding.diagnosis(
                    "its port was in use: the grader passes --port 0, which lets the OS pick a free port; is --port read and used?",
                )
            } else {
                finding.diagnosis(format!(
                    "the {who} stopped before it was ready: its stderr says why"
                ))
            }
        }
        StartError::NoLine { timeout, .. } => Finding::new(
            expected,
            format!(
                "nothing on stdout within {} s, and it is still running",
                timeout.as_secs_f64()
            ),
        )
        .diagnosis(
            "either the line is never printed, or it is not flushed: stdout to a pipe is \
             buffered, so flush right after printing it (Python: print(..., flush=True))",
        ),
        StartError::NotListeningLine { line, .. } if line.to_lowercase().contains("listening") => {
            Finding::new(expected, format!("the first stdout line is {line:?}")).diagnosis(
                "the line must be exactly `listening on IP:PORT`, lowercase, with the real \
                 IP and port the socket is bound to (such as `listening on 127.0.0.1:8001`)",
            )
        }
        StartError::NotListeningLine { line, .. } => {
            Finding::new(expected, format!("the first stdout line is {line:?}"))
                .diagnosis("the listening line must come first on stdout: print logs to stderr")
        }
    }
}

/// Accepts one connection on `listener` (the grader playing a server), or
/// gives up after `timeout`: a client that never connects must not keep the
/// grader waiting in `accept` forever.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Writes `bytes` to `stream` (the grader playing a server) in `pieces`
/// nearly equal parts, with `pause` between them, so that a reader that
/// takes one read for the whole gets only the first part.
///
/// Each part leaves at once in a segment of its own (TCP_NODELAY), and the
/// pause lets the reader take it before the next arrives; without it the
/// receiving kernel would queue the parts together again.
pub fn write_in_pieces(
    stream: &mut TcpStream,
    bytes: &[u8],
    pieces: usize,
    pause: Duration,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let size = bytes.len().div_ceil(pieces.max(1)).max(1);
    for (index, piece) in bytes.chunks(size).enumerate() {
        if index > 0 {
            std::thread::sleep(pause);
        }
        stream.write_all(piece)?;
    }
    Ok(())
}

/// Reads exactly `wanted` bytes, or says how it fell short.
///
/// Each read waits at most the stream's read timeout ([`REPLY_TIMEOUT`] on
/// the grader's connections, unless a check allows more): that catches a
/// peer that goes silent. The
/// whole read may take up to [`TRANSFER_TIMEOUT`], so that a large reply on
/// a busy machine is not cut off while it is still flowing.
pub fn read_exactly(stream: &mut TcpStream, wanted: usize) -> Result<Vec<u8>, ShortRead> {
    let mut reply = vec![0; wanted];
    let mut received = 0;
    let deadline = Instant::now() + TRANSFER_TIMEOUT;
    let silence = stream
        .read_timeout()
        .ok()
        .flatten()
        .unwrap_or(REPLY_TIMEOUT);
    while received < wanted {
        match stream.read(&mut reply[received..]) {
            Ok(0) => return Err(ShortRead::Closed { received, wanted }),
            Ok(n) => received += n,
            Err(err) if shared::failure::is_timeout(&err) => {
                return Err(ShortRead::Timeout {
                    received,
                    wanted,
                    silence,
                });
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(ShortRead::Failed(err)),
        }
        if Instant::now() > deadline {
            return Err(ShortRead::Timeout {
                received,
                wanted,
                silence,
            });
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

/// A line a program printed, for a transcript: whole unless it is longer
/// than a report can show (a 64 KiB reply printed on one line, say).
fn shortened(line: &str) -> String {
    const SHOWN: usize = 300;
    match line.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &line[..cut], line.len()),
        None => line.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A session whose student server is the shell script `script`.
    fn session_with_server(script: &str) -> Session {
        let subject = Subject {
            server: format!("sh -c {}", super::super::shell_quote(script)),
            client: String::new(),
        };
        Session::new(subject.clone(), subject).with_startup_timeout(Duration::from_secs(2))
    }

    #[test]
    fn a_log_line_before_the_listening_line_is_named_as_such() {
        let mut session = session_with_server("echo starting up; sleep 5");
        let finding = session.start_server(&[]).expect_err("no listening line");
        assert_eq!(finding.seen, "the first stdout line is \"starting up\"");
        assert!(
            finding
                .diagnosis
                .is_some_and(|d| d.contains("must come first"))
        );
    }

    #[test]
    fn a_server_whose_port_is_taken_is_told_about_port_0() {
        let mut session = session_with_server(
            "echo 'error: could not listen: Address already in use' >&2; exit 1",
        );
        let finding = session.start_server(&[]).expect_err("it exits");
        assert!(
            finding.seen.contains("exited (exit status: 1)"),
            "{finding:?}"
        );
        assert!(finding.diagnosis.is_some_and(|d| d.contains("--port 0")));
    }

    #[test]
    fn a_silent_server_is_told_apart_from_an_unflushed_line() {
        let mut session = session_with_server("sleep 5");
        let finding = session.start_server(&[]).expect_err("no line");
        assert!(finding.seen.contains("still running"), "{finding:?}");
        assert!(finding.diagnosis.is_some_and(|d| d.contains("flush")));
    }

    #[test]
    fn a_peer_that_accepts_and_never_answers_gets_words_not_an_os_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = listener.local_addr().expect("its address");
        let session = Session::detached();
        let mut stream = session.connect(addr).expect("the backlog accepts");
        let finding = session
            .exchange(&mut stream, b"hello", b"HELLO")
            .expect_err("no reply");
        let words = format!("{finding:?}");
        assert!(!words.contains("os error"), "{words}");
        assert!(
            finding
                .diagnosis
                .is_some_and(|d| d.contains("accepted the connection but sent nothing")),
            "{words}"
        );
        drop(listener);
    }

    #[test]
    fn a_refused_connection_says_nothing_listens() {
        let unused = crate::contract::UnusedPort::new();
        let session = Session::detached();
        let finding = session
            .connect(([127, 0, 0, 1], unused.port()).into())
            .expect_err("refused");
        assert!(
            finding.seen.contains("nothing listens there"),
            "{finding:?}"
        );
        assert!(!finding.seen.contains("os error"));
    }
}
