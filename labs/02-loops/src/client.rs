//! The client side: many messages on one connection, each reply awaited.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shared::Failure;

/// One connection to the server, kept open for a whole conversation.
pub struct Conversation {
    stream: TcpStream,
    server: SocketAddr,
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
        Ok(Conversation {
            stream,
            server,
            reply_timeout,
        })
    }

    /// Sends `message` and waits for its reply.
    ///
    /// The reply is the message in capitals, so it has exactly as many bytes
    /// as the message: we read until we have that many. Knowing the length in
    /// advance is what makes a reply complete; lab 05 makes that explicit.
    pub fn ask(&mut self, message: &str) -> Result<Vec<u8>, Failure> {
        let server = self.server;
        // STARTER: write_all the message, then read until the reply has as many bytes as the message (a 0-byte read: the server closed)
        // ANCHOR: ask
        self.stream
            .write_all(message.as_bytes())
            .map_err(|err| Failure::io(format_args!("send to {server}"), &err))?;

        let mut reply = Vec::with_capacity(message.len());
        let mut buffer = [0u8; 1024];
        while reply.len() < message.len() {
            // Never ask for more than the rest of this reply, so that we
            // cannot swallow the start of a later one.
            let wanted = (message.len() - reply.len()).min(buffer.len());
            let n = self
                .stream
                .read(&mut buffer[..wanted])
                .map_err(|err| self.read_failure(&err))?;
            if n == 0 {
                return Err(Failure::new(format!(
                    "{server} closed the connection before it answered in full"
                ))
                .hint("look at the server's log for the reason"));
            }
            reply.extend_from_slice(&buffer[..n]);
        }
        // ANCHOR_END: ask
        Ok(reply)
        // STARTER_END
    }

    /// Says why a reply did not come, with a hint for the common case.
    fn read_failure(&self, err: &io::Error) -> Failure {
        let failure = Failure::io(format_args!("read the reply from {}", self.server), err);
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => failure.hint(format!(
                "no reply within {} s: the server may be busy with other clients, serving one \
                 at a time or at its --max-clients limit; --timeout sets a longer wait",
                self.reply_timeout.as_secs_f64()
            )),
            _ => failure.hint("look at the server's log for the reason"),
        }
    }
}
