//! The client side: ask for reports on one connection, and check every reply.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shared::Failure;
use shared::pace::{DEFAULT_MIN_RATE, Pace, Paced};
use shared::text::printable;

use crate::frame::{self, FrameError};
use crate::protocol::{MAX_REPLY_BODY, Reply, Request, crc32, numbers};

/// One connection to the server, kept open for a whole conversation.
pub struct Conversation {
    stream: TcpStream,
    server: SocketAddr,
    reply_timeout: Duration,
}

/// A request as the user typed it, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The words as typed, to label the answer.
    pub typed: String,
    /// The request header.
    pub request: Request,
    /// The request body (only `echo` has one).
    pub body: Vec<u8>,
}

impl Ask {
    /// Turns what the user typed into a request.
    ///
    /// `numbers N` asks for N bytes of generated data, `echo TEXT` sends TEXT
    /// as the request body; anything else is sent as a report name, exactly
    /// as typed, for the server to look up (or refuse).
    pub fn parse(typed: &str) -> Result<Ask, Failure> {
        let typed = typed.trim();
        let (name, rest) = typed.split_once(' ').unwrap_or((typed, ""));
        let (report, count, body) = match name {
            "numbers" => {
                let count = rest.trim().parse::<u64>().map_err(|_| {
                    Failure::new(format!("'{typed}' has no count of bytes")).hint(
                        "write numbers and a whole number, such as `numbers 5000000`",
                    )
                })?;
                ("numbers", Some(count), Vec::new())
            }
            "echo" => ("echo", None, rest.as_bytes().to_vec()),
            _ => (typed, None, Vec::new()),
        };
        Ok(Ask {
            typed: typed.to_string(),
            request: Request {
                report: report.to_string(),
                count,
                body_size: body.len() as u64,
            },
            body,
        })
    }
}

impl Conversation {
    /// Starts a conversation on a connected stream. A reply must arrive
    /// within `reply_timeout`, or, if it is large, keep up the minimum rate
    /// after that; otherwise it is an error rather than a hang.
    pub fn new(stream: TcpStream, reply_timeout: Duration) -> Result<Self, Failure> {
        let server = stream
            .peer_addr()
            .map_err(|err| Failure::io("find the server's address", &err))?;
        // A server that reads nothing must not hold our writes forever either.
        stream
            .set_write_timeout(Some(reply_timeout))
            .map_err(|err| Failure::io("set a write timeout", &err))?;
        Ok(Conversation {
            stream,
            server,
            reply_timeout,
        })
    }

    /// Sends one request frame and reads exactly one reply frame.
    pub fn ask(&mut self, ask: &Ask) -> Result<(Reply, Vec<u8>), Failure> {
        let server = self.server;
        // ANCHOR: ask
        frame::write_frame(&mut self.stream, &ask.request, &ask.body)
            .map_err(|err| Failure::new(format!("could not send to {server}: {err}")))?;
        // The whole reply has --timeout, and a large one as long again as it
        // needs at the minimum rate: slow is fine, a trickle is not.
        let pace = Pace::min_rate_after(self.reply_timeout, DEFAULT_MIN_RATE);
        let reply = frame::read_frame::<Reply>(
            &mut Paced::from_now(&self.stream, pace),
            MAX_REPLY_BODY,
        )
        .map_err(|err| self.read_failure(&err))?;
        // ANCHOR_END: ask
        reply.ok_or_else(|| {
            Failure::new(format!(
                "{server} closed the connection instead of answering"
            ))
            .hint("look at the server's log for the reason")
        })
    }

    /// Says why a reply did not come, with a hint for the common cases.
    fn read_failure(&self, err: &FrameError) -> Failure {
        let failure = Failure::new(format!(
            "could not read the reply from {}: {err}",
            self.server
        ));
        match err {
            FrameError::TooSlow(_) => failure.hint(format!(
                "the server may be busy; --timeout gives a reply longer than {} s",
                self.reply_timeout.as_secs_f64()
            )),
            FrameError::Io(_) | FrameError::Truncated { .. } => {
                failure.hint("look at the server's log for the reason")
            }
            _ => failure
                .hint("is the server a lab 05 server? the reply is not a lab 05 frame"),
        }
    }
}

// ANCHOR: check
/// Checks that a reply arrived intact, and says so in one line.
///
/// The framing already guarantees the body has exactly `body_size` bytes.
/// On top of that the CRC-32 must match, and where the client knows what the
/// body must be (generated numbers, its own echo) it compares every byte.
/// A refusal is not a failure: the server answered, and the line says why.
pub fn check(ask: &Ask, reply: &Reply, body: &[u8]) -> Result<String, Failure> {
    let typed = &ask.typed;
    if let Some(reason) = &reply.error {
        // The server wrote the reason: shown, never obeyed (see shared::text).
        return Ok(format!(
            "{typed}: refused by the server: {}",
            printable(reason)
        ));
    }
    let damaged = |what: String| {
        Failure::new(format!("the reply to '{typed}' is damaged: {what}"))
            .hint("a framing bug on one side: compare the bytes sent and received")
    };
    let actual = crc32(body);
    if actual != reply.crc32 {
        return Err(damaged(format!(
            "its CRC-32 is {actual:08x}, the header says {:08x}",
            reply.crc32
        )));
    }
    let mut line = format!("{typed}: {} bytes, crc32 {actual:08x} ok", body.len());
    if let Some(count) = ask
        .request
        .count
        .filter(|_| ask.request.report == "numbers")
    {
        if body != numbers(count) {
            return Err(damaged("it differs from the numbers generated here".into()));
        }
        line.push_str(", same as the numbers generated here");
    }
    if ask.request.report == "echo" {
        if body != ask.body {
            return Err(damaged("it differs from what was sent".into()));
        }
        line.push_str(", same as sent");
    }
    // Show a short text body itself; a long or binary one only by its size.
    if let Ok(text) = std::str::from_utf8(body) {
        if !body.is_empty() && body.len() <= 80 && !text.contains(char::is_control) {
            line.push_str(&format!(": {text:?}"));
        }
    }
    Ok(line)
}
// ANCHOR_END: check

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_requests() {
        let ask = Ask::parse("numbers 5000").unwrap();
        assert_eq!(ask.request.count, Some(5000));
        let ask = Ask::parse("echo two words").unwrap();
        assert_eq!(
            (ask.request.report.as_str(), ask.body.as_slice()),
            ("echo", &b"two words"[..])
        );
        assert_eq!(ask.request.body_size, 9);
        let ask = Ask::parse("rm -rf ~").unwrap();
        assert_eq!(ask.request.report, "rm -rf ~");
        assert!(Ask::parse("numbers lots").is_err());
    }

    #[test]
    fn a_reply_is_checked_against_its_checksum_and_the_expected_bytes() {
        let ask = Ask::parse("numbers 20").unwrap();
        let body = numbers(20);
        let line = check(&ask, &Reply::ok(&body), &body).unwrap();
        assert_eq!(
            line,
            format!(
                "numbers 20: 20 bytes, crc32 {:08x} ok, same as the numbers generated here",
                crc32(&body)
            )
        );
        let mut flipped = body.clone();
        flipped[3] ^= 1;
        assert!(check(&ask, &Reply::ok(&body), &flipped).is_err());
        // Right checksum, wrong data: caught by the comparison.
        assert!(check(&ask, &Reply::ok(&flipped), &flipped).is_err());
    }

    #[test]
    fn a_refusal_is_reported_not_failed() {
        let ask = Ask::parse("ls").unwrap();
        let line = check(&ask, &Reply::error("no such report"), b"").unwrap();
        assert_eq!(line, "ls: refused by the server: no such report");
    }
}
