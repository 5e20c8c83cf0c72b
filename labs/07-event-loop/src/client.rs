//! The client side: lines sent on one connection, each reply awaited.
//!
//! A plain blocking client, like lab 02's: the event loop is the server's
//! business. The difference is the framing: a message is a line, so the
//! reply is complete when its `\n` arrives, whatever its length.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shared::Failure;

use crate::lines::MAX_LINE;

/// One connection to the server, kept open for a whole conversation.
pub struct Conversation {
    /// Reads replies, buffered: a reply may come in pieces, or together
    /// with the next.
    replies: BufReader<TcpStream>,
    /// The same socket, for sending.
    stream: TcpStream,
    /// The server's address, for messages.
    server: SocketAddr,
    /// How long a reply may take, for the hint when it does not come.
    reply_timeout: Duration,
}

impl Conversation {
    /// Starts a conversation on a connected stream; a reply that takes longer
    /// than `reply_timeout` is an error rather than a hang.
    pub fn new(stream: TcpStream, reply_timeout: Duration) -> Result<Self, Failure> {
        let server = stream
            .peer_addr()
            .map_err(|err| Failure::io("find the server's address", &err))?;
        stream
            .set_read_timeout(Some(reply_timeout))
            .map_err(|err| Failure::io("set a read timeout", &err))?;
        let reader = stream
            .try_clone()
            .map_err(|err| Failure::io("share the socket", &err))?;
        Ok(Conversation {
            replies: BufReader::new(reader),
            stream,
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

        // Read up to and including the next `\n`, and no further: a longer
        // reply than any line could be is a server gone wrong, not a reason
        // to fill our memory.
        let mut reply = Vec::new();
        (&mut self.replies)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut reply)
            .map_err(|err| self.read_failure(&err))?;
        // ANCHOR_END: ask
        // A reply is upper-cased, so only the server's error line can
        // start with a lower-case `error: `.
        if let Some(said) = reply.strip_prefix(b"error: ") {
            let said = String::from_utf8_lossy(said);
            return Err(Failure::new(format!(
                "{server} refused the line: {}",
                said.trim_end()
            )));
        }
        if reply.pop() != Some(b'\n') {
            return Err(Failure::new(format!(
                "{server} closed the connection before it answered in full"
            ))
            .hint("look at the server's log for the reason"));
        }
        Ok(reply)
    }

    /// Says why a reply did not come, with a hint for the common case.
    fn read_failure(&self, err: &io::Error) -> Failure {
        let failure = Failure::io(format_args!("read the reply from {}", self.server), err);
        if shared::failure::is_timeout(err) {
            failure.hint(format!(
                "no reply within {} s; --timeout sets a longer wait",
                self.reply_timeout.as_secs_f64()
            ))
        } else {
            failure.hint("look at the server's log for the reason")
        }
    }
}
