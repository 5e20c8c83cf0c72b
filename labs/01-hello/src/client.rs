//! The client side: connect, send one message, read the reply.

use std::io::{Read, Write};
use std::net::TcpStream;

use shared::Failure;

/// The longest reply we accept.
///
/// We read until the server closes, and a peer decides how much it sends: a
/// cap keeps a misbehaving server from filling our memory.
pub const MAX_REPLY_SIZE: u64 = 64 * 1024;

/// Sends `message` and returns the server's whole reply.
pub fn ask(mut stream: TcpStream, message: &str) -> Result<Vec<u8>, Failure> {
    let server = stream
        .peer_addr()
        .map_err(|err| Failure::io("find the server's address", &err))?;

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
        .map_err(|err| Failure::io(format_args!("read the reply from {server}"), &err))?;
    // ANCHOR_END: receive
    Ok(reply)
    // STARTER_END
}
