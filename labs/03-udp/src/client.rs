//! The client side: send a datagram, wait with a timeout, send again if need be.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use shared::Failure;
use shared::failure::is_timeout;

use crate::{Endpoint, MAX_DATAGRAM_IPV4, MAX_DATAGRAM_IPV6};

/// What the client needs to talk to one server.
pub struct Exchange {
    socket: UdpSocket,
    /// As the user gave it, for the "is the server running?" hint.
    endpoint: Endpoint,
    server: SocketAddr,
    timeout: Duration,
    retries: u32,
    /// Room for the largest possible reply, allocated once.
    buffer: Vec<u8>,
}

impl Exchange {
    /// Opens a socket for talking to the server at `endpoint`.
    ///
    /// There is nothing to connect: we bind our own socket to any free port
    /// (the server learns it from each datagram) and remember where to send.
    pub fn new(
        endpoint: &Endpoint,
        timeout: Duration,
        retries: u32,
    ) -> Result<Self, Failure> {
        let server = shared::net::resolve(endpoint)?[0];
        let any_port: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(any_port)
            .map_err(|err| Failure::io("open a UDP socket", &err))?;
        // Without a timeout, `recv_from` would wait forever for a reply that
        // was lost, or for a server that is not there.
        socket
            .set_read_timeout(Some(timeout))
            .map_err(|err| Failure::io("set a receive timeout", &err))?;
        Ok(Exchange {
            socket,
            endpoint: endpoint.clone(),
            server,
            timeout,
            retries,
            buffer: vec![0; MAX_DATAGRAM_IPV6],
        })
    }

    /// The largest message one datagram to this server can carry.
    pub fn max_message(&self) -> usize {
        if self.server.is_ipv4() {
            MAX_DATAGRAM_IPV4
        } else {
            MAX_DATAGRAM_IPV6
        }
    }

    /// Sends `message` in one datagram and returns the reply, sending again
    /// after each timeout, up to `retries` more times.
    pub fn ask(&mut self, message: &[u8]) -> Result<Vec<u8>, Failure> {
        if message.len() > self.max_message() {
            return Err(Failure::new(format!(
                "a message of {} bytes does not fit in one UDP datagram (at most {} bytes)",
                message.len(),
                self.max_message()
            ))
            .hint("send a shorter message; longer data needs several datagrams, or TCP"));
        }
        self.discard_late_replies()?;
        // STARTER: send_to the server and wait for its reply; after a timeout send again, retries times at most
        let tries = self.retries + 1;
        // ANCHOR: retry_loop
        for attempt in 1..=tries {
            self.socket.send_to(message, self.server).map_err(|err| {
                Failure::io(format_args!("send to {}", self.server), &err)
            })?;
            match self.receive_from_server() {
                Ok(reply) => return Ok(reply),
                Err(err) if is_timeout(&err) => {
                    if attempt < tries {
                        eprintln!(
                            "no reply within {} s; sending again (try {} of {tries})",
                            self.timeout.as_secs_f64(),
                            attempt + 1
                        );
                    }
                }
                Err(err) => {
                    return Err(Failure::io(
                        format_args!("receive from {}", self.server),
                        &err,
                    ));
                }
            }
        }
        // ANCHOR_END: retry_loop
        Err(Failure::new(format!(
            "no reply from {} after {tries} tries, {} s each",
            self.server,
            self.timeout.as_secs_f64()
        ))
        .hint(format!(
            "UDP cannot tell a lost datagram from a missing server; {}",
            shared::net::start_the_server_hint(&self.endpoint)
        )))
        // STARTER_END
    }

    /// Waits for one datagram from the server, ignoring any from elsewhere.
    fn receive_from_server(&mut self) -> io::Result<Vec<u8>> {
        loop {
            // Anyone can send to our port; only the server's datagrams count.
            let (n, sender) = self.socket.recv_from(&mut self.buffer)?;
            if sender == self.server {
                return Ok(self.buffer[..n].to_vec());
            }
            eprintln!("ignored a datagram of {n} bytes from {sender}");
        }
    }

    /// Throws away replies that arrived after we gave up on them.
    ///
    /// If a reply is merely slow, our retry gets a second one: without this,
    /// the extra reply would be taken as the answer to our *next* message.
    /// (A sequence number in every message fixes this for good; see the
    /// exercises.)
    fn discard_late_replies(&mut self) -> Result<(), Failure> {
        let nonblocking = |on: bool| {
            self.socket
                .set_nonblocking(on)
                .map_err(|err| Failure::io("switch the socket's blocking mode", &err))
        };
        nonblocking(true)?;
        while let Ok((n, sender)) = self.socket.recv_from(&mut self.buffer) {
            eprintln!(
                "ignored a late datagram of {n} bytes from {sender} (the answer to an earlier try)"
            );
        }
        nonblocking(false)
    }
}
