//! The client side: lines sent on one connection, each reply awaited.
//!
//! A plain blocking client, like lab 02's: the event loop is the server's
//! business. The difference is the framing: a message is a line, so the
//! reply is complete when its `\n` arrives, whatever its length.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shared::Failure;
use shared::pace::{Pace, Paced};

use crate::lines::MAX_LINE;

/// One connection to the server, kept open for a whole conversation.
pub struct Conversation {
    stream: TcpStream,
    /// Bytes received after the end of the last reply: a read may bring
    /// more than one line, and what follows a `\n` belongs to the next.
    unread: Vec<u8>,
    /// The server's address, for messages.
    server: SocketAddr,
    /// How long a whole reply may take.
    reply_timeout: Duration,
}

impl Conversation {
    /// Starts a conversation on a connected stream; a reply that does not
    /// arrive whole within `reply_timeout` is an error rather than a hang.
    pub fn new(stream: TcpStream, reply_timeout: Duration) -> Result<Self, Failure> {
        let server = stream
            .peer_addr()
            .map_err(|err| Failure::io("find the server's address", &err))?;
        Ok(Conversation {
            stream,
            unread: Vec::new(),
            server,
            reply_timeout,
        })
    }

    /// Sends `message` as one line and returns the reply, without its `\n`.
    pub fn ask(&mut self, message: &str) -> Result<Vec<u8>, Failure> {
        let server = self.server;
        if message.contains('\n') {
            return Err(Failure::new("a message cannot contain a newline")
                .hint("a newline ends a line: send each line with its own ask"));
        }
        // ANCHOR: ask
        let mut line = Vec::with_capacity(message.len() + 1);
        line.extend_from_slice(message.as_bytes());
        line.push(b'\n');
        self.stream
            .write_all(&line)
            .map_err(|err| Failure::io(format_args!("send to {server}"), &err))?;
        let mut reply = self.read_line()?;
        // ANCHOR_END: ask
        reply.pop();
        // A reply is upper-cased, so only the server's error line can
        // start with a lower-case `error: `.
        if let Some(said) = reply.strip_prefix(b"error: ") {
            return Err(Failure::new(format!(
                "{server} refused the line: {}",
                shared::text::printable_bytes(said)
            )));
        }
        Ok(reply)
    }

    /// Reads up to and including the next `\n`, all of it within the reply
    /// timeout; keeps whatever follows for the next reply.
    fn read_line(&mut self) -> Result<Vec<u8>, Failure> {
        let server = self.server;
        // A deadline for the whole reply, not for each read: a server that
        // sends one byte a second would never trip a read timeout of 10 s.
        let mut input = Paced::from_now(&self.stream, Pace::within(self.reply_timeout));
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = self.unread.iter().position(|&byte| byte == b'\n') {
                let rest = self.unread.split_off(end + 1);
                return Ok(std::mem::replace(&mut self.unread, rest));
            }
            // A longer reply than any line could be is a server gone wrong,
            // not a reason to fill our memory.
            if self.unread.len() > MAX_LINE {
                return Err(Failure::new(format!(
                    "{server} sent a reply longer than any line ({MAX_LINE} bytes)"
                ))
                .hint("is it a lab 07 server?"));
            }
            let n = input
                .read(&mut chunk)
                .map_err(|err| read_failure(server, &err))?;
            if n == 0 {
                return Err(Failure::new(format!(
                    "{server} closed the connection before it answered in full"
                ))
                .hint("look at the server's log for the reason"));
            }
            self.unread.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Says why a reply did not come, with a hint for the common case.
fn read_failure(server: SocketAddr, err: &io::Error) -> Failure {
    // A deadline that ran out says so itself ("it did not arrive whole
    // within 10 s"), through `describe`.
    let failure = Failure::io(format_args!("read the reply from {server}"), err);
    if shared::failure::is_timeout(err) {
        failure.hint("the server may be slow or busy; --timeout sets a longer wait")
    } else {
        failure.hint("look at the server's log for the reason")
    }
}
