//! Real processes for tests and demos: start, wait for readiness, reap.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its listening line.
///
/// Generous, because a cold machine may be compiling other tests at the same
/// time; a healthy server prints the line in milliseconds.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Something to call with each line a process prints, as it arrives.
pub type Tee = Arc<dyn Fn(&str) + Send + Sync>;

/// A server process under test. Dropping it kills and reaps the process, so a
/// failed assertion never leaves a server running.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `program` with `args` and `--port 0`, and waits for `listening on ADDR`.
    ///
    /// `--port 0` lets the OS pick a free port, so tests never collide with
    /// each other or with a server the student left running.
    pub fn start<I, S>(program: impl AsRef<OsStr>, args: I) -> Result<Server, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program.as_ref());
        command.args(args).args(["--port", "0"]);
        Server::start_command(command)
    }

    /// Starts a prepared command (its arguments already chosen) and waits for its
    /// listening line.
    pub fn start_command(command: Command) -> Result<Server, String> {
        Server::start_command_with_tee(command, Arc::new(|_: &str| {}))
    }

    /// Like [`Server::start_command`], and also hands every stderr line to
    /// `tee` as it arrives (the demo prints them live).
    pub fn start_command_with_tee(command: Command, tee: Tee) -> Result<Server, String> {
        Server::start_command_with(command, tee, STARTUP_TIMEOUT)
    }

    /// Starts `command`, tees its stderr lines, and waits at most
    /// `startup_timeout` for its listening line (the grader is stricter than
    /// the suite's own tests).
    pub fn start_command_with(
        mut command: Command,
        tee: Tee,
        startup_timeout: Duration,
    ) -> Result<Server, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        // Its own process group, so that stopping it also stops any process
        // it started (a student's server may be a script that runs another).
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("could not start {program}: {err}"))?;
        let stdout = lines_of(child.stdout.take().expect("stdout is piped"));
        let stderr = collect_lines(child.stderr.take().expect("stderr is piped"), tee);
        let mut server = Server {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stdout,
            stderr,
        };
        match server.stdout.recv_timeout(startup_timeout) {
            Ok(line) => match parse_listening_line(&line) {
                Some(addr) => server.addr = addr,
                None => {
                    return Err(format!(
                        "{program}: first stdout line should be `listening on IP:PORT`, got {line:?}"
                    ));
                }
            },
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "{program} printed no listening line within {startup_timeout:?}"
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = server.child.wait().ok();
                return Err(format!(
                    "{program} exited ({status:?}) before it printed its listening line; stderr: {}",
                    server.stderr().join(" | ")
                ));
            }
        }
        Ok(server)
    }

    /// The address the server reported.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id (its process group's too).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `--port` argument a client needs to reach this server.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// The server's stdin, for servers that read commands from it.
    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.child.stdin.as_mut()
    }

    /// Every stderr line the server has printed so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Waits until a stderr line contains `needle`, for up to `timeout`.
    ///
    /// Servers log what they did; waiting for the log line is how a test knows
    /// the server got there, without guessing a sleep.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().iter().any(|line| line.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The next line on the server's stdout after the listening line, if one
    /// comes within `timeout`.
    pub fn next_stdout_line(&self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// Waits for the server to exit by itself, for up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server now and returns all it printed on stderr.
    pub fn stop(mut self) -> Vec<String> {
        self.kill();
        // The reader thread finishes once the pipe closes; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Arc::strong_count(&self.stderr) > 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        self.stderr()
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The whole process group: `kill -KILL -- -PGID`.
            let group = format!("-{}", self.child.id());
            let killed_group = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if !killed_group {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client command aimed at `server`: `program --host IP --port PORT`.
///
/// It is an `assert_cmd` command with a timeout, so a client that hangs fails
/// its test instead of freezing the suite.
pub fn client(program: impl AsRef<Path>, server: &Server) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(program.as_ref());
    command
        .args([
            "--host",
            &server.addr().ip().to_string(),
            "--port",
            &server.port(),
        ])
        .timeout(Duration::from_secs(20));
    command
}

/// Closes `stream` with a reset (RST) instead of the polite FIN, as a crashed
/// or killed peer's kernel would: the other side's next read fails with
/// "connection reset".
pub fn reset(stream: std::net::TcpStream) {
    let socket = socket2::Socket::from(stream);
    // A linger time of zero makes close() discard unsent data and send RST.
    socket
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER can be set on a TCP socket");
    drop(socket);
}

/// Reads `listening on IP:PORT`.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("listening on ")?.trim_end().parse().ok()
}

/// The most lines kept from one stream of a process, and the longest line:
/// a program that floods its output must not flood the test's memory.
const MAX_LINES: usize = 10_000;
const MAX_LINE_LENGTH: usize = 4096;

/// Calls `each` with every line of `reader` (cut at [`MAX_LINE_LENGTH`]) until
/// the stream ends, `each` returns false, or [`MAX_LINES`] lines were seen;
/// then keeps reading and discarding, so the writer is never blocked.
fn for_each_line(reader: impl Read, mut each: impl FnMut(String) -> bool) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut wanted = true;
    let mut seen = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (part, used, ended) = match chunk.iter().position(|&b| b == b'\n') {
            Some(end) => (&chunk[..end], end + 1, true),
            None => (chunk, chunk.len(), false),
        };
        let room = MAX_LINE_LENGTH.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        reader.consume(used);
        if ended {
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            line.clear();
            seen += 1;
            if wanted && (seen > MAX_LINES || !each(text)) {
                wanted = false;
            }
        }
    }
    if wanted && !line.is_empty() {
        each(String::from_utf8_lossy(&line).into_owned());
    }
}

/// Sends each line of `reader` into a channel, from a thread of its own.
fn lines_of(reader: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || for_each_line(reader, |line| sender.send(line).is_ok()));
    receiver
}

/// Collects each line of `reader` into a shared list, from a thread of its own.
///
/// Reading the pipe continuously matters: a server that logs a lot would
/// otherwise fill the pipe and block on its next log line.
fn collect_lines(reader: impl Read + Send + 'static, tee: Tee) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for_each_line(reader, |line| {
            tee(&line);
            if let Ok(mut lines) = sink.lock() {
                lines.push(line);
            }
            true
        })
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_cut_to_length_and_counted() {
        let long = "x".repeat(MAX_LINE_LENGTH + 10);
        let input = format!("one\r\n{long}\nlast without newline");
        let mut lines = Vec::new();
        for_each_line(input.as_bytes(), |line| {
            lines.push(line);
            true
        });
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1].len(), MAX_LINE_LENGTH);
        assert_eq!(lines[2], "last without newline");
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:4000"),
            Some(SocketAddr::from(([127, 0, 0, 1], 4000)))
        );
        assert_eq!(
            parse_listening_line("listening on [::1]:80\n"),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_listening_line("Listening on 127.0.0.1:4000"), None);
        assert_eq!(parse_listening_line("listening on 127.0.0.1"), None);
    }
}
