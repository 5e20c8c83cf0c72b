//! The client side: connect, send one message, read the reply.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use shared::Failure;
use shared::pace::{Pace, Paced};

/// The longest reply we accept.
///
/// We read until the server closes, and a peer decides how much it sends: a
/// cap keeps a misbehaving server from filling our memory.
pub const MAX_REPLY_SIZE: u64 = 64 * 1024;

/// Sends `message` and returns the server's whole reply, which must have
/// arrived, and ended, within `timeout`.
pub fn ask(
    stream: TcpStream,
    message: &str,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let server = stream
        .peer_addr()
        .map_err(|err| Failure::io("find the server's address", &err))?;
    // ANCHOR: deadline
    // We read until the server closes, and the server decides when that is:
    // a server that never closes, or sends its reply a byte a minute, would
    // hold us forever. A read timeout alone bounds one read, not the reply,
    // so the whole reply gets a deadline (see `shared::pace`).
    let mut stream = Paced::from_now(stream, Pace::within(timeout));
    // ANCHOR_END: deadline

    // STARTER: send the message with write_all, then read the reply until the server closes
    // ANCHOR: send
    // A `&str` is UTF-8 text; `as_bytes` gives the bytes that travel.
    stream
        .write_all(message.as_bytes())
        .map_err(|err| Failure::io(format_args!("send to {server}"), &err))?;
    // ANCHOR_END: send

    // ANCHOR: receive
    // This server closes the connection after its reply, so "the reply" is
    // everything up to the end of the stream: read until a read returns 0.
    let mut reply = Vec::new();
    stream
        .take(MAX_REPLY_SIZE)
        .read_to_end(&mut reply)
        .map_err(|err| {
            Failure::io(format_args!("read the reply from {server}"), &err)
                .hint("is it a lab 01 server? it closes the connection after its reply")
        })?;
    // ANCHOR_END: receive
    Ok(reply)
    // STARTER_END
}
