//! Keep-alive against short connections: the same requests sent over one
//! connection, or over a new connection each (`lab02-keepalive`).
//!
//! A short connection pays for a handshake before its request and a close
//! after it, and the side that closes first keeps the closed connection in
//! TIME_WAIT for about a minute. Timing both ways on the same server shows
//! what that costs.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use shared::Failure;

use crate::client::Conversation;

/// How long one reply may take before the measurement gives up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `requests` copies of `message` on one connection, each after the
/// reply to the one before, and returns how long each round trip took.
pub fn one_connection(
    server: SocketAddr,
    requests: usize,
    message: &str,
) -> Result<Vec<Duration>, Failure> {
    let mut conversation = Conversation::new(open(server)?, REPLY_TIMEOUT)?;
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        conversation.ask(message)?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// Sends each of `requests` copies of `message` on a connection of its own:
/// connect, ask, close. Returns how long each took, connect and close
/// included, since a short connection pays for them on every request.
pub fn new_connection_each(
    server: SocketAddr,
    requests: usize,
    message: &str,
) -> Result<Vec<Duration>, Failure> {
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let mut conversation = Conversation::new(open(server)?, REPLY_TIMEOUT)?;
        conversation.ask(message)?;
        // Dropping it closes our end first: the FIN leaves from this side,
        // so this side's kernel keeps the connection in TIME_WAIT.
        drop(conversation);
        times.push(started.elapsed());
    }
    Ok(times)
}

/// Connects, with the same bounded wait as every client in the suite.
fn open(server: SocketAddr) -> Result<TcpStream, Failure> {
    TcpStream::connect_timeout(&server, REPLY_TIMEOUT)
        .map_err(|err| Failure::io(format_args!("connect to {server}"), &err))
}
