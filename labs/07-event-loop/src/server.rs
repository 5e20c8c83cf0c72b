//! What both engines share: their settings, how a connection ended, and the
//! log lines that say so.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use shared::failure::describe;

/// How the server treats its clients, whichever engine runs it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A connection that makes no progress for this long (the client sends
    /// nothing and reads nothing) is closed, so an idle peer cannot hold
    /// its socket and buffers forever.
    pub idle_timeout: Duration,
    /// Log each connection's start and end (off for benchmarks: with 10,000
    /// clients the log lines cost more than the work).
    pub log_connections: bool,
}

/// How one connection ended, for the log.
#[derive(Debug)]
pub enum Ending {
    /// The client closed its side (a 0-byte read) and every reply was sent.
    Closed {
        /// Lines answered.
        answered: u64,
        /// Bytes of a last line without `\n`, which got no reply.
        unfinished: usize,
    },
    /// The client sent a line longer than the cap and got the error line.
    TooLong,
    /// Nothing moved either way for the idle timeout.
    Silent,
    /// A socket error (most often a reset) ended this connection only.
    Failed(io::Error),
}

impl Ending {
    /// Logs how the connection with `peer` ended, if connections are logged.
    pub fn log(&self, peer: SocketAddr, settings: &Settings) {
        if !settings.log_connections {
            return;
        }
        match self {
            Ending::Closed {
                answered,
                unfinished: 0,
            } => eprintln!("{peer}: closed the connection after {answered} line(s)"),
            Ending::Closed {
                answered,
                unfinished,
            } => eprintln!(
                "{peer}: closed the connection after {answered} line(s), and {unfinished} bytes \
                 without a final \\n, which are not a line and get no reply"
            ),
            Ending::TooLong => eprintln!(
                "{peer}: sent a line longer than {} bytes; sent the error line and closed",
                crate::lines::MAX_LINE
            ),
            Ending::Silent => eprintln!(
                "{peer}: no progress for {} s, closing the connection",
                settings.idle_timeout.as_secs_f64()
            ),
            Ending::Failed(err) if err.kind() == io::ErrorKind::ConnectionReset => {
                eprintln!("{peer}: reset the connection (it went away without closing)");
            }
            Ending::Failed(err) => {
                eprintln!("{peer}: {}; closing the connection", describe(err))
            }
        }
    }
}

/// The most bytes taken from one socket in one read.
///
/// Every byte read is a byte to answer, and while one client's bytes are
/// answered, the others wait: small reads keep the turns short. 16 KiB is
/// still large enough that a read costs little per byte.
pub const READ_CHUNK: usize = 16 * 1024;

/// How long a refused connection may go on sending before we close it anyway.
///
/// After the error line, the rest of the client's over-long line is still
/// arriving. Closing a socket with unread bytes makes the kernel send a reset,
/// and a reset can make the client's kernel throw away our error line before
/// the client reads it (lab 05's `close_gently`). So we end our side, read and
/// discard what comes, and close when the client does, or after this long.
pub const GENTLE_CLOSE_TIME: Duration = Duration::from_secs(1);

/// Logs the first time the number of clients connected at once reaches 10,
/// 100, 1,000, …, with the number of threads this process has, as the
/// operating system counts them: the point of this lab, seen from outside.
#[derive(Debug, Default)]
pub struct Milestones {
    /// The next number of clients to report (0 before the first client).
    next: usize,
}

impl Milestones {
    /// Called whenever clients connect, with how many are connected now.
    ///
    /// Each milestone passed is logged by its own round number, so the log
    /// is the same however many clients one turn of the loop accepted.
    pub fn connected(&mut self, now: usize) {
        if self.next == 0 {
            self.next = 10;
        }
        while now >= self.next {
            let threads = threads_of_this_process()
                .map(|threads| {
                    format!(
                        "; this process has {threads} thread(s) (Threads: in /proc/self/status)"
                    )
                })
                .unwrap_or_default();
            eprintln!("{} clients connected at once{threads}", self.next);
            self.next *= 10;
        }
    }
}

/// The `Threads:` line of `/proc/self/status`: how many threads the kernel
/// says we have. Linux only; elsewhere `None`.
pub fn threads_of_this_process() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
}
