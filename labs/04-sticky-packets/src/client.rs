//! The client side: one write per message without waiting for replies, then
//! the server's count of reads, and what that count means.

use std::cmp::Ordering;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use shared::Failure;
use shared::pace::{Pace, Paced};

use crate::report::{MAX_REPORT_BYTES, Report};
use crate::shown::count;

/// One connection on which messages go out back to back.
///
/// Lab 02's client waited for a reply after each message, so the server
/// always had exactly one message to read: the lock-step hid the problem.
/// This one does not wait, as a client streaming log lines or sending a batch
/// of commands would not.
pub struct Session {
    stream: TcpStream,
    server: SocketAddr,
    reply_timeout: Duration,
}

impl Session {
    /// Starts a session on a connected stream. `nodelay` turns Nagle's
    /// algorithm off; a report that takes longer than `reply_timeout` is an
    /// error rather than a hang.
    pub fn new(
        stream: TcpStream,
        reply_timeout: Duration,
        nodelay: bool,
    ) -> Result<Self, Failure> {
        let server = stream
            .peer_addr()
            .map_err(|err| Failure::io("find the server's address", &err))?;
        // ANCHOR: nodelay
        // Nagle's algorithm (on by default) holds a small write back while an
        // earlier one is still unacknowledged, to send them together in one
        // segment. TCP_NODELAY turns that off: every write leaves at once.
        // It changes how bytes travel, not what a read gets: a receiver that
        // reads late still finds them all waiting together.
        stream
            .set_nodelay(nodelay)
            .map_err(|err| Failure::io("set TCP_NODELAY", &err))?;
        // ANCHOR_END: nodelay
        Ok(Session {
            stream,
            server,
            reply_timeout,
        })
    }

    /// Sends one message with a write of its own, and does not wait.
    pub fn send(&mut self, message: &[u8]) -> Result<(), Failure> {
        let server = self.server;
        // ANCHOR: send
        // One `write_all` per message: for a small message that is a single
        // write() call. The kernel copies the bytes into the connection's
        // send buffer and returns; it remembers no boundary between them and
        // the bytes of the previous call.
        self.stream
            .write_all(message)
            .map_err(|err| Failure::io(format_args!("send to {server}"), &err))
        // ANCHOR_END: send
    }

    /// Says "no more messages" and reads the server's report.
    pub fn finish(self) -> Result<Report, Failure> {
        let server = self.server;
        // STARTER: shut down the sending side (the server then reads 0 bytes), read the report up to the end of the stream, and Report::parse it
        // ANCHOR: finish
        // Close our sending side only (the FIN): the server's next read
        // returns 0, the one boundary TCP keeps. Our receiving side stays
        // open for the report.
        self.stream.shutdown(Shutdown::Write).map_err(|err| {
            Failure::io(format_args!("close our side towards {server}"), &err)
        })?;
        // The server closes the connection after its report, so the report
        // is everything up to the end of the stream, as in lab 01.
        // The whole report within the timeout, not each read (see lab 01).
        let mut reply = Vec::new();
        Paced::from_now(&self.stream, Pace::within(self.reply_timeout))
            .take(MAX_REPORT_BYTES)
            .read_to_end(&mut reply)
            .map_err(|err| self.read_failure(&err))?;
        // ANCHOR_END: finish
        let text = String::from_utf8_lossy(&reply);
        Report::parse(&text).ok_or_else(|| {
            Failure::new(format!("{server} did not answer with a report: {text:?}"))
                .hint("is it a lab04-server? start one with `just server 04`")
        })
        // STARTER_END
    }

    /// Says why the report did not come, with a hint for the common case.
    fn read_failure(&self, err: &io::Error) -> Failure {
        let failure =
            Failure::io(format_args!("read the report from {}", self.server), err);
        if shared::failure::is_timeout(err) {
            failure.hint(format!(
                "no report within {} s; is the server's --read-delay longer than that? \
                 (try --timeout for longer)",
                self.reply_timeout.as_secs_f64()
            ))
        } else {
            failure.hint("look at the server's log for the reason")
        }
    }
}

/// Message number `index` (from 0) of `size` bytes, all one letter: `aaaaa`,
/// `bbbbb`, … so that a read holding several of them shows where each began.
pub fn generated_message(index: usize, size: usize) -> Vec<u8> {
    let letter = b'a' + (index % 26) as u8;
    vec![letter; size]
}

// ANCHOR: verdict
/// What the two counts prove: `5 messages sent, 1 read: they stuck together`.
///
/// Counting is enough to prove each effect. Fewer reads than messages: some
/// read must have held bytes of two messages. More reads than messages: some
/// message must have been spread over two reads. Equal counts prove nothing
/// either way.
pub fn verdict(messages: u64, reads: u64) -> String {
    let meaning = match reads.cmp(&messages) {
        Ordering::Less if reads == 1 => "they stuck together",
        Ordering::Less => "some of them stuck together",
        Ordering::Greater if messages == 1 => "it was cut into pieces",
        Ordering::Greater => "some of them were cut into pieces",
        Ordering::Equal => "as many reads as messages this time, but nothing promised it",
    };
    format!(
        "{} sent, {}: {meaning}",
        count(messages, "message"),
        count(reads, "read")
    )
}
// ANCHOR_END: verdict

/// The way out, printed after every verdict: the boundaries have to travel
/// inside the bytes, because TCP does not carry them.
pub const THE_FIX: &str = "the fix: put the boundaries into the bytes yourself, either
  - end each message with a delimiter such as \\n (a message must then never contain one), or
  - send each message's length before it (lab 05 does that)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_follows_from_the_counts() {
        assert_eq!(
            verdict(5, 1),
            "5 messages sent, 1 read: they stuck together"
        );
        assert_eq!(
            verdict(5, 3),
            "5 messages sent, 3 reads: some of them stuck together"
        );
        assert_eq!(
            verdict(1, 10),
            "1 message sent, 10 reads: it was cut into pieces"
        );
        assert_eq!(
            verdict(2, 3),
            "2 messages sent, 3 reads: some of them were cut into pieces"
        );
        assert!(verdict(4, 4).contains("nothing promised it"));
    }

    #[test]
    fn generated_messages_use_one_letter_each() {
        assert_eq!(generated_message(0, 3), b"aaa");
        assert_eq!(generated_message(1, 2), b"bb");
        assert_eq!(generated_message(26, 1), b"a");
    }
}
