//! Hostile peers played by the tests themselves, over real sockets.
//!
//! A client must not trust its server any more than a server trusts its
//! clients. These helpers let a test stand where the server would be and
//! misbehave on purpose: send text that forges output lines or drives the
//! terminal, or send a reply one byte at a time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::contract::assert_one_error_line;

/// Text a server could send to make a client print lies: a newline and a
/// fake success line, a fake error line, a carriage return that rewinds the
/// line, and terminal escapes (a colour, clearing the screen, the window
/// title ended by BEL).
pub const FORGED: &str = "fine\nhello: 28 bytes, crc32 00000000 ok\nerror: forged\r\
                          \x1b[31mred\x1b[2J\x1b]0;owned\x07";

/// A server played by the test: it accepts one client and runs `script` on
/// the connection, in a thread of its own.
pub struct FakeServer {
    addr: SocketAddr,
    script: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Listens on a free port of 127.0.0.1 and runs `script` on the first
    /// connection.
    pub fn start(script: impl FnOnce(TcpStream) + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("the bound address");
        let script = thread::spawn(move || {
            if let Ok((connection, _)) = listener.accept() {
                script(connection);
            }
        });
        FakeServer {
            addr,
            script: Some(script),
        }
    }

    /// The `--port` argument that reaches it.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// A command that runs the client `program` against this server
    /// (`--port PORT`), with a timeout, so a client that hangs fails its test
    /// instead of freezing the suite.
    pub fn client(&self, program: impl AsRef<Path>) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::new(program.as_ref());
        command
            .args(["--port", &self.port()])
            .timeout(Duration::from_secs(30));
        command
    }

    /// Waits for the script to end (it ends when its client is gone).
    pub fn join(mut self) {
        if let Some(script) = self.script.take() {
            let _ = script.join();
        }
    }
}

/// Sends `bytes` one at a time, `gap` apart, until done or the peer leaves;
/// then holds the connection open for `linger`, as a server that never
/// closes would.
pub fn dribble(connection: &mut TcpStream, bytes: &[u8], gap: Duration, linger: Duration) {
    for byte in bytes {
        if connection.write_all(&[*byte]).is_err() {
            return;
        }
        thread::sleep(gap);
    }
    thread::sleep(linger);
}

/// A script for [`FakeServer`]: take the client's request (one read), then
/// answer with `reply` one byte every `gap`, and never close (for 30 s).
pub fn trickle(reply: &'static [u8], gap: Duration) -> impl FnOnce(TcpStream) + Send + 'static {
    move |mut connection| {
        let _ = connection.read(&mut [0u8; 1024]);
        dribble(&mut connection, reply, gap, Duration::from_secs(30));
    }
}

/// Runs `client` against a server that will not finish its reply, and
/// checks that the client gave up on its own, sooner than `limit`, with one
/// `error: … (hint: …)` line; returns its stderr.
///
/// Choose `limit` well below the time the server would hold a client that
/// only had a timeout per read, so that such a client fails the test.
pub fn assert_gives_up_within(client: &mut assert_cmd::Command, limit: Duration) -> String {
    let started = Instant::now();
    let output = client.output().expect("the client runs");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "the client must fail: {stderr}");
    assert!(took < limit, "the server held the client for {took:?}");
    assert_one_error_line(&stderr);
    stderr
}

/// What a client printed from forged text: `expected_lines` lines, and not
/// one terminal escape or carriage return among them.
pub fn assert_printed_safely(output: &str, expected_lines: usize) {
    assert!(
        !output.contains('\x1b'),
        "an ESC byte reached the terminal: {output:?}"
    );
    assert!(
        !output.contains('\r'),
        "a carriage return reached the terminal: {output:?}"
    );
    assert!(
        !output.contains('\x07'),
        "a BEL reached the terminal: {output:?}"
    );
    assert_eq!(
        output.lines().count(),
        expected_lines,
        "one peer message must stay one line: {output:?}"
    );
}

/// Runs `client`, given `--timeout 1` against a server whose reply trickles
/// in, and checks that it gives up within `limit` (not held by the trickle)
/// saying that the whole reply did not come within its second.
pub fn assert_cut_at_a_1_s_deadline(client: &mut assert_cmd::Command, limit: Duration) {
    let stderr = assert_gives_up_within(client, limit);
    assert!(
        stderr.contains("did not arrive whole within 1 s ("),
        "{stderr}"
    );
}
