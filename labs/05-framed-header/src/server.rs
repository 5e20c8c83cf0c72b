//! The server side: lab 02's loops, now with one frame per request and reply.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use shared::cli::Deadlines;
use shared::failure::{describe, is_timeout};
use shared::pace::Paced;
use shared::text::printable;

use crate::frame::{self, FrameError};
use crate::protocol::{self, MAX_REQUEST_BODY, Reply, Request, STREAM_PIECE};
use crate::reports::{self, Report};

/// How the server treats its clients.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A client that makes no progress for this long (sends nothing, or
    /// reads nothing of a reply) is disconnected, so a peer that went silent
    /// cannot hold a thread forever.
    pub idle_timeout: Duration,
    /// How long a request may take once its first byte has come, so that a
    /// client sending a byte now and then cannot hold a thread either.
    pub deadlines: Deadlines,
    /// How many clients are served at once; more wait to be accepted.
    pub max_clients: usize,
    /// Log each request (off for benchmarks: a log line per request costs a
    /// system call per request).
    pub log_requests: bool,
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
/// frames that are cut short, too big or not JSON) can stop the server:
/// every error ends this client's conversation only.
pub fn serve_client(mut connection: TcpStream, client: SocketAddr, settings: &Settings) {
    eprintln!("{client}: connected");
    // ANCHOR: how_it_ended
    match communicate(&mut connection, client, settings) {
        Ok(count) => {
            eprintln!("{client}: closed the connection after {count} request(s)")
        }
        Err(FrameError::Io(err)) if err.kind() == io::ErrorKind::ConnectionReset => {
            eprintln!("{client}: reset the connection (it went away without closing)");
        }
        Err(FrameError::Io(err)) if is_timeout(&err) => eprintln!(
            "{client}: idle for {} s, closing the connection",
            settings.idle_timeout.as_secs_f64()
        ),
        Err(FrameError::Io(err)) => {
            eprintln!("{client}: {}; closing the connection", describe(&err));
        }
        // Everything else is a frame we could not accept, or one that came
        // too slowly. After it we no longer know where the next frame
        // starts, so the conversation is over; but the peer deserves to know
        // why, so we try to tell it.
        Err(bad_frame) => {
            let told = frame::write_frame(
                &mut connection,
                &Reply::error(bad_frame.to_string()),
                b"",
            );
            let outcome = match told {
                Ok(()) => "sent an error reply",
                Err(_) => "could not send an error reply",
            };
            close_gently(&mut connection);
            eprintln!(
                "{client}: bad frame: {bad_frame}; {outcome} and closed the connection"
            );
        }
    }
    // ANCHOR_END: how_it_ended
}

/// How long, at most, we keep reading after an error reply before closing.
const GENTLE_CLOSE_TIME: Duration = Duration::from_secs(1);

/// Closes a connection after an error reply in a way that does not destroy
/// the reply.
///
/// After a bad frame, the rest of what the peer sent is still unread in our
/// receive buffer. Closing a socket with unread data makes the kernel answer
/// with a reset (RST) instead of a normal end, and a reset may make the
/// peer's kernel throw away our error reply before the peer reads it. So we
/// first end our side (`shutdown(Write)` sends our FIN after the reply),
/// then read and discard whatever the peer still sends, until it closes or a
/// short deadline passes, and only then close.
fn close_gently(connection: &mut TcpStream) {
    // ANCHOR: close_gently
    if connection.shutdown(Shutdown::Write).is_err() {
        return; // already gone: nothing left to protect
    }
    let deadline = Instant::now() + GENTLE_CLOSE_TIME;
    let mut discard = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || connection.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match connection.read(&mut discard) {
            Ok(0) | Err(_) => break, // the peer closed too, or time is up
            Ok(_) => continue,
        }
    }
    // ANCHOR_END: close_gently
}

/// The communication loop: reads one request frame, answers it with one
/// reply frame, until the client closes its side between two frames.
/// Returns how many requests it answered.
fn communicate(
    connection: &mut TcpStream,
    client: SocketAddr,
    settings: &Settings,
) -> Result<u64, FrameError> {
    // Without this, a `write` could wait forever on a peer that reads nothing.
    // Reads get their timeouts from `Paced`, below.
    connection.set_write_timeout(Some(settings.idle_timeout))?;
    let mut answered = 0;
    // ANCHOR: communication_loop
    loop {
        // Exactly one frame, however the bytes arrive; `None` is the client
        // closing cleanly between frames, the normal end.
        let Some((request, body)) = read_request(connection, settings)? else {
            return Ok(answered);
        };
        // A request we understood but cannot satisfy (an unknown name, a
        // count too big) is not a broken frame: we answer with an error
        // reply and the conversation goes on.
        let reply = match reports::produce(&request, &body) {
            Ok(report) => send_report(connection, &report)?,
            Err(reason) => {
                let reply = Reply::error(reason);
                frame::write_frame(connection, &reply, b"")?;
                reply
            }
        };
        if settings.log_requests {
            eprintln!("{client}: {}", describe_exchange(&request, &reply));
        }
        answered += 1;
    }
    // ANCHOR_END: communication_loop
}

// ANCHOR: read_request
/// Reads one request frame, on the clock: waiting for its first byte may
/// take up to the idle timeout, but once it has come, the prefix and the
/// header must arrive within the request timeout, and the body at the
/// minimum rate after that.
fn read_request(
    connection: &TcpStream,
    settings: &Settings,
) -> Result<Option<(Request, Vec<u8>)>, FrameError> {
    let deadlines = &settings.deadlines;
    let mut header =
        Paced::from_first_byte(connection, deadlines.header(), settings.idle_timeout);
    let Some(request) = frame::read_header::<Request>(&mut header)? else {
        return Ok(None);
    };
    let mut body =
        Paced::from_now(connection, deadlines.body()).with_idle(settings.idle_timeout);
    let body = frame::read_body(&mut body, request.body_size, MAX_REQUEST_BODY)?;
    Ok(Some((request, body)))
}
// ANCHOR_END: read_request

// ANCHOR: send_report
/// Sends a report as one reply frame, streaming its body in pieces of
/// [`STREAM_PIECE`] bytes, and returns the reply header it sent.
///
/// The header comes first and holds the body's CRC-32, so the checksum is
/// computed in a first pass over the body (generated, never stored), and the
/// body is generated again as it is sent. A 32 MiB reply then costs the
/// server one piece of memory, not 32 MiB per client.
fn send_report(connection: &TcpStream, report: &Report) -> Result<Reply, FrameError> {
    let reply = Reply::streamed(report.size(), protocol::crc32_of(report.body())?);
    // Buffered, so a short reply's header and body leave in one write.
    let mut output = BufWriter::with_capacity(STREAM_PIECE, connection);
    frame::write_header(&mut output, &reply)?;
    io::copy(&mut report.body(), &mut output)?;
    output.flush()?;
    Ok(reply)
}
// ANCHOR_END: send_report

/// One log line for one request and its reply.
fn describe_exchange(request: &Request, reply: &Reply) -> String {
    let mut asked = match request.count {
        Some(count) => format!("{:?}", format!("{} {count}", request.report)),
        None => format!("{:?}", request.report),
    };
    if request.body_size > 0 {
        asked.push_str(&format!(" with a {}-byte body", request.body_size));
    }
    match &reply.error {
        None => format!("asked for {asked}, sent {} bytes", reply.body_size),
        // A refusal may quote the name the client sent: one log line, whatever it holds.
        Some(reason) => format!("asked for {asked}, refused: {}", printable(reason)),
    }
}
