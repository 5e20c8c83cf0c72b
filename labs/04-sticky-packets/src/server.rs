//! The server side: lab 02's loops, with a reader that takes each read for
//! one message, and says so.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use shared::Failure;
use shared::failure::{describe, is_timeout};

use crate::report::Report;
use crate::shown::{count, shown};

/// The most bytes one read takes unless `--read-buffer` says otherwise: the
/// tutorials' `recv(1024)`, as in labs 01 and 02.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 1024;

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
    /// How long to wait after accepting a client before the first read, to
    /// play a server that is busy with something else. Whatever the client
    /// sends meanwhile waits in the kernel, all in one queue of bytes.
    pub read_delay: Option<Duration>,
    /// The most bytes one read may take. A message longer than this can only
    /// come out of several reads.
    pub read_buffer_size: usize,
}

// ANCHOR: receive_buffer
/// Asks the kernel for a receive buffer of `bytes` for each connection that
/// `listener` accepts (SO_RCVBUF), and returns the size it granted.
///
/// It is set on the listener because accepted connections inherit it, and
/// because it must be known before the handshake, when the two sides agree
/// on how large a window they may advertise. A small receive buffer holds
/// few bytes between reads: a large write then arrives in pieces even when
/// the reader is slow and its read buffer is large.
pub fn set_receive_buffer(
    listener: &TcpListener,
    bytes: usize,
) -> Result<usize, Failure> {
    let socket = socket2::SockRef::from(listener);
    socket
        .set_recv_buffer_size(bytes)
        .and_then(|()| socket.recv_buffer_size())
        .map_err(|err| Failure::io("set the receive buffer size (SO_RCVBUF)", &err))
}
// ANCHOR_END: receive_buffer

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
        Ok(report) => eprintln!(
            "{client}: finished sending: {} as {}; sent back `{report}`",
            count(report.bytes, "byte"),
            count(report.reads, "message"),
        ),
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

/// The communication loop: takes each read for one message, as lab 02 did,
/// until the client closes its side; then tells the client how many reads
/// (how many "messages") that took.
fn communicate(
    connection: &mut TcpStream,
    client: SocketAddr,
    settings: &Settings,
) -> io::Result<Report> {
    // Without these, `read` and `write` could wait forever on a silent peer.
    connection.set_read_timeout(Some(settings.idle_timeout))?;
    connection.set_write_timeout(Some(settings.idle_timeout))?;
    // ANCHOR: read_delay
    if let Some(delay) = settings.read_delay {
        eprintln!(
            "{client}: waiting {} s before the first read (--read-delay)",
            delay.as_secs_f64()
        );
        // The connection is open, so the kernel keeps receiving the client's
        // bytes while we sleep. It appends them to this connection's receive
        // buffer, one write after another, with nothing in between to say
        // where one write ended and the next began.
        thread::sleep(delay);
    }
    // ANCHOR_END: read_delay
    // STARTER: count the reads (and bytes) until the client closes its side, then write the report line
    let mut buffer = vec![0u8; settings.read_buffer_size];
    let mut report = Report::default();
    // ANCHOR: communication_loop
    loop {
        // `read` returns what is waiting, from 1 byte up to the buffer's
        // size: three small writes that have all arrived come out together,
        // and a write bigger than the buffer comes out in pieces. Nothing in
        // a TCP stream marks where one write ended.
        let n = connection.read(&mut buffer)?;
        // A read of 0 bytes is the end of the stream: the client closed its
        // sending side. It is the only boundary TCP does keep.
        if n == 0 {
            break;
        }
        report.reads += 1;
        report.bytes += n as u64;
        // The naive step, kept from lab 02 on purpose: one read, one message.
        if settings.log_messages {
            eprintln!(
                "{client}: message {}: {}",
                report.reads,
                shown(&buffer[..n])
            );
        }
    }
    // ANCHOR_END: communication_loop
    // ANCHOR: report
    // The client is waiting for this line: it has closed only its own side,
    // and can still read what we send until we close ours (by returning).
    connection.write_all(format!("{report}\n").as_bytes())?;
    // ANCHOR_END: report
    Ok(report)
    // STARTER_END
}
