//! The client side: many messages on one connection, each reply awaited.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use shared::Failure;
use shared::pace::{Pace, Paced};

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
        Ok(Conversation {
            stream,
            server,
            reply_timeout,
        })
    }

    /// Sends `message` and waits for its reply; all of the reply must have
    /// arrived within the reply timeout.
    ///
    /// The reply is the message in capitals, so it has exactly as many bytes
    /// as the message: we read until we have that many. Knowing the length in
    /// advance is what makes a reply complete; lab 05 makes that explicit.
    pub fn ask(&mut self, message: &str) -> Result<Vec<u8>, Failure> {
        let server = self.server;
        // STARTER: send the message while reading its reply (see read_reply): a long message must not fill both buffers
        let stream = &self.stream;
        // ANCHOR: ask
        // The server answers while we are still sending. Were we to send all
        // of a long message before reading, its answer would fill our receive
        // buffer and then the server's send buffer; the server would stop
        // reading to wait for us, and we would stop writing to wait for it.
        // So one thread writes while this one reads.
        let (written, reply) = thread::scope(|scope| {
            let writer = scope.spawn(|| (&*stream).write_all(message.as_bytes()));
            let reply = self.read_reply(message.len());
            if reply.is_err() {
                // Wake the writer if it is stuck on a server that stopped reading.
                let _ = stream.shutdown(Shutdown::Both);
            }
            (writer.join(), reply)
        });
        let reply = reply?;
        match written {
            Ok(Ok(())) => Ok(reply),
            Ok(Err(err)) => Err(Failure::io(format_args!("send to {server}"), &err)
                .hint("look at the server's log for the reason")),
            Err(_) => Err(Failure::new("the thread sending the message failed")
                .hint("this is a bug in the client: please report it")),
        }
        // ANCHOR_END: ask
        // STARTER_END
    }

    /// Reads exactly `length` bytes of reply, within the reply timeout.
    fn read_reply(&self, length: usize) -> Result<Vec<u8>, Failure> {
        let server = self.server;
        // STARTER: read until the reply has `length` bytes, within the deadline (a 0-byte read: the server closed)
        // ANCHOR: read_reply
        // A deadline for the whole reply, not for each read: a server that
        // sends one byte a second would never trip a read timeout of 10 s.
        let mut input = Paced::from_now(&self.stream, Pace::within(self.reply_timeout));
        let mut reply = vec![0u8; length];
        let mut received = 0;
        while received < length {
            // Each read fills only the rest of this reply, so it cannot take
            // bytes that belong to a later one.
            let n = input
                .read(&mut reply[received..])
                .map_err(|err| self.read_failure(&err))?;
            if n == 0 {
                return Err(Failure::new(format!(
                    "{server} closed the connection before it answered in full"
                ))
                .hint("look at the server's log for the reason"));
            }
            received += n;
        }
        // ANCHOR_END: read_reply
        Ok(reply)
        // STARTER_END
    }

    /// Says why a reply did not come, with a hint for the common case.
    fn read_failure(&self, err: &io::Error) -> Failure {
        let failure =
            Failure::io(format_args!("read the reply from {}", self.server), err);
        if shared::failure::is_timeout(err) {
            failure.hint(
                "the server may be busy with other clients, serving one at a time or at its \
                 --max-clients limit; --timeout sets a longer wait",
            )
        } else {
            failure.hint("look at the server's log for the reason")
        }
    }
}
