//! The server side: accept one client, answer one message, close.

use std::io::{Read, Write};
use std::net::TcpListener;

use shared::Failure;

/// The most bytes we take from the client in one read.
///
/// 1024 is the tutorials' number. It is an upper bound, not a promise: a read
/// returns whatever has arrived, from 1 byte up to this size.
pub const READ_BUFFER_SIZE: usize = 1024;

/// Accepts one connection, replies to one message in upper case, and closes.
pub fn serve_one_client(listener: &TcpListener) -> Result<(), Failure> {
    // STARTER: accept one client, send its message back in capitals with write_all, then close
    // ANCHOR: accept
    // `accept` blocks until a client has finished the three-way handshake. It
    // returns a *new* socket for this one client; `listener` stays open and
    // could accept more (lab 02 does).
    let (mut connection, client) = listener
        .accept()
        .map_err(|err| Failure::io("accept a connection", &err))?;
    eprintln!("accepted a connection from {client}");
    // ANCHOR_END: accept

    // ANCHOR: read_reply
    // Sockets carry bytes, not text: we read into a byte buffer, and `n` says
    // how many of its bytes are real. One read is enough for a short message
    // on one machine, but TCP does not promise it (see lab 04).
    let mut buffer = [0u8; READ_BUFFER_SIZE];
    let n = connection
        .read(&mut buffer)
        .map_err(|err| Failure::io(format_args!("read from {client}"), &err))?;
    let message = &buffer[..n];
    eprintln!("received {n} bytes: {:?}", String::from_utf8_lossy(message));

    // Upper-casing bytes changes only ASCII letters, so the reply has exactly
    // as many bytes as the message, and any UTF-8 text stays valid UTF-8.
    let reply = message.to_ascii_uppercase();
    // `write_all`, not `write`: one `write` may send only part of the buffer
    // and tell us so in its return value, which is easy to ignore.
    connection
        .write_all(&reply)
        .map_err(|err| Failure::io(format_args!("write to {client}"), &err))?;
    eprintln!("sent {} bytes back", reply.len());
    // ANCHOR_END: read_reply

    // ANCHOR: close
    // Dropping the stream closes it: the kernel sends FIN, the client's next
    // read returns 0 bytes, and it knows the reply is complete.
    drop(connection);
    eprintln!("closed the connection to {client}; one client served, exiting");
    // ANCHOR_END: close
    Ok(())
    // STARTER_END
}
