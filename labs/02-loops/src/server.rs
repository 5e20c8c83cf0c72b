//! The server side: the connection loop and the communication loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use shared::failure::{describe, is_timeout};

/// The most bytes we take from a client in one read, as in lab 01.
pub const READ_BUFFER_SIZE: usize = 1024;

/// How the server treats its clients.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A client that sends nothing for this long is disconnected, so a peer
    /// that went silent cannot hold a thread (or, one by one, the whole
    /// server) forever.
    pub idle_timeout: Duration,
    /// How many clients are served at once; more wait to be accepted.
    pub max_clients: usize,
    /// Log each message (off for benchmarks: a log line per message costs a
    /// system call per message).
    pub log_messages: bool,
}

/// Serves clients one after another: the connection loop around the
/// communication loop. While one client is connected, the next one waits.
pub fn serve_one_by_one(listener: &TcpListener, settings: &Settings) {
    // STARTER: loop: accept the next client and serve_client it; a failed accept is logged, not fatal
    // ANCHOR: connection_loop
    loop {
        // A failed accept concerns one would-be client, not the server: log
        // it and accept the next. (Lab 01 simply gave up.)
        let (connection, client) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("could not accept a connection: {}", describe(&err));
                continue;
            }
        };
        serve_client(connection, client, settings);
    }
    // ANCHOR_END: connection_loop
    // STARTER_END
}

/// Serves many clients at once, a thread each, at most `max_clients` at a
/// time: the threaded connection loop of `shared::slots`, with this lab's
/// conversation in each thread.
pub fn serve_concurrently(listener: &TcpListener, settings: &Settings) {
    let settings = settings.clone();
    shared::slots::serve_concurrently(
        listener,
        settings.max_clients,
        move |connection, client| serve_client(connection, client, &settings),
    );
}

/// Talks to one client until it leaves, and says how it left.
///
/// Nothing that one client does (closing, resetting, going silent, sending
/// bytes that are not text) can stop the server: every error ends this
/// client's conversation only.
pub fn serve_client(mut connection: TcpStream, client: SocketAddr, settings: &Settings) {
    eprintln!("{client}: connected");
    // ANCHOR: how_it_ended
    match communicate(&mut connection, client, settings) {
        Ok(count) => {
            eprintln!("{client}: closed the connection after {count} message(s)")
        }
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {
            eprintln!("{client}: reset the connection (it went away without closing)");
        }
        Err(err) if is_timeout(&err) => eprintln!(
            "{client}: silent for {} s, closing the connection",
            settings.idle_timeout.as_secs_f64()
        ),
        Err(err) => eprintln!("{client}: {}; closing the connection", describe(&err)),
    }
    // ANCHOR_END: how_it_ended
}

/// The communication loop: answers each message in capitals until the client
/// closes its side. Returns how many messages it answered.
fn communicate(
    connection: &mut TcpStream,
    client: SocketAddr,
    settings: &Settings,
) -> io::Result<u64> {
    // Without these, `read` and `write` could wait forever on a silent peer.
    connection.set_read_timeout(Some(settings.idle_timeout))?;
    connection.set_write_timeout(Some(settings.idle_timeout))?;
    // STARTER: loop: read, and answer each read in capitals, until a read of 0 bytes ends the stream
    let mut buffer = [0u8; READ_BUFFER_SIZE];
    let mut answered = 0;
    // ANCHOR: communication_loop
    loop {
        let n = connection.read(&mut buffer)?;
        // A read of 0 bytes is not an empty message: it is the end of the
        // stream. The client closed its side (its FIN arrived), and no more
        // bytes will ever come on this connection.
        if n == 0 {
            return Ok(answered);
        }
        let message = &buffer[..n];
        if settings.log_messages {
            eprintln!(
                "{client}: received {n} bytes: {:?}",
                String::from_utf8_lossy(message)
            );
        }
        connection.write_all(&message.to_ascii_uppercase())?;
        answered += 1;
    }
    // ANCHOR_END: communication_loop
    // STARTER_END
}
