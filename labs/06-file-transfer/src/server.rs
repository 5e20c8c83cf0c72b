//! The server side: lab 05's loops and threads, with four commands on one
//! shared folder.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lab05_framed_header::frame::{self, FrameError};
use shared::cli::Deadlines;
use shared::failure::{describe, is_timeout};
use shared::pace::Paced;

use crate::folder::Folder;
use crate::partial::PartialFile;
use crate::protocol::{self, Content, Received, Reply, Request, SMALL_WRITES_BUFFER};
use crate::size::format_sizes_apart;

/// How the server treats its clients.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The folder whose files are shared; nothing outside it is ever read
    /// or written.
    pub folder: Folder,
    /// The largest file a client may put.
    pub max_size: u64,
    /// A client that makes no progress for this long (sends nothing between
    /// commands or in the middle of a file, reads nothing of a reply) is
    /// disconnected, so a peer that went silent cannot hold a thread forever.
    pub idle_timeout: Duration,
    /// How long a request may take once its first byte has come, and how
    /// slowly a file may arrive, so that a client sending a byte now and
    /// then cannot hold a thread either.
    pub deadlines: Deadlines,
    /// How many clients are served at once; more wait to be accepted.
    pub max_clients: usize,
    /// Log each command (off for benchmarks).
    pub log_commands: bool,
}

/// How a session ended without an error.
enum Ending {
    /// The client sent `close`, after this many other commands.
    Closed(u64),
    /// The client closed the connection between two commands.
    Left(u64),
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
/// Nothing that one client does (closing, resetting, going silent, dying in
/// the middle of a file, sending frames that are cut short or not JSON) can
/// stop the server: every error ends this client's session only, and a file
/// it was sending is dropped, never kept half-written.
pub fn serve_client(connection: TcpStream, client: SocketAddr, settings: &Settings) {
    eprintln!("{client}: connected");
    // ANCHOR: how_it_ended
    match session(&connection, client, settings) {
        Ok(Ending::Closed(count)) => {
            eprintln!("{client}: closed the session after {count} command(s)");
        }
        Ok(Ending::Left(count)) => {
            eprintln!("{client}: closed the connection after {count} command(s)");
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
        Err(cut @ FrameError::Truncated { .. }) => eprintln!("{client}: {cut}"),
        // A frame we could not accept, or one that came too slowly. After it
        // we no longer know where the next frame starts, so the session is
        // over; but the peer deserves to know why, so we try to tell it.
        Err(bad_frame) => {
            let hint = match bad_frame {
                FrameError::TooSlow(_) => {
                    "a request must arrive whole within the server's --request-timeout, \
                     and a file at its --min-rate or faster"
                }
                _ => {
                    "the server speaks lab 06's protocol; see the chapter's Protocol section"
                }
            };
            let reply = Reply::error(bad_frame.to_string(), hint);
            let told = frame::write_frame(&mut &connection, &reply, b"");
            let outcome = match told {
                Ok(()) => "sent an error reply",
                Err(_) => "could not send an error reply",
            };
            close_gently(&connection);
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
/// the reply (as in lab 05).
///
/// After a bad frame, the rest of what the peer sent (maybe a whole file) is
/// still unread in our receive buffer. Closing a socket with unread data
/// makes the kernel answer with a reset (RST) instead of a normal end, and a
/// reset may make the peer's kernel throw away our error reply before the
/// peer reads it. So we first end our side (`shutdown(Write)` sends our FIN
/// after the reply), then read and discard whatever the peer still sends,
/// until it closes or a short deadline passes, and only then close.
fn close_gently(connection: &TcpStream) {
    if connection.shutdown(Shutdown::Write).is_err() {
        return; // already gone: nothing left to protect
    }
    let deadline = Instant::now() + GENTLE_CLOSE_TIME;
    let mut discard = [0u8; 4096];
    let mut reader = connection;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || connection.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match reader.read(&mut discard) {
            Ok(0) | Err(_) => break, // the peer closed too, or time is up
            Ok(_) => continue,
        }
    }
}

/// The communication loop: one request frame after another, each answered,
/// until the client sends `close` or closes the connection between commands.
fn session(
    connection: &TcpStream,
    client: SocketAddr,
    settings: &Settings,
) -> Result<Ending, FrameError> {
    // Without this, a `write` could wait forever on a peer that reads
    // nothing. Reads get their timeouts from `Paced` (see `next_header`).
    connection.set_write_timeout(Some(settings.idle_timeout))?;
    // Reading and writing go through two handles on the same socket. The
    // writer is buffered so that a small reply (header, body, trailer) leaves
    // in one segment; it is flushed after every command, before we wait for
    // the next one.
    let mut output = BufWriter::with_capacity(SMALL_WRITES_BUFFER, connection);
    let mut commands = 0;
    // ANCHOR: communication_loop
    loop {
        let Some(request) = next_header::<Request>(connection, settings)? else {
            return Ok(Ending::Left(commands));
        };
        if request.body_size != 0 {
            // We could not even skip it safely without trusting its size.
            return Err(FrameError::BadHeader(
                "a request has no body: its body_size must be 0".to_string(),
            ));
        }
        let done = match request.command.as_str() {
            "dir" => dir(&mut output, settings)?,
            "get" => get(&mut output, &request, settings)?,
            "put" => put(connection, &mut output, &request, settings)?,
            "close" => {
                frame::write_frame(&mut output, &Reply::ok(0), b"")?;
                output.flush()?;
                return Ok(Ending::Closed(commands));
            }
            unknown => refuse(
                &mut output,
                "request",
                format!("unknown command {unknown:?}"),
                "the commands are dir, get, put and close",
            )?,
        };
        // Everything of this reply leaves now, before we wait for the next
        // request; a byte left in our buffer is a byte the client waits for.
        output.flush()?;
        commands += 1;
        if settings.log_commands {
            eprintln!("{client}: {done}");
        }
    }
    // ANCHOR_END: communication_loop
}

// ANCHOR: next_header
/// Reads the next frame's header, on the clock: waiting for its first byte
/// may take up to the idle timeout, but once it has come, the prefix and the
/// header must arrive whole within the request timeout.
fn next_header<H: frame::Header>(
    connection: &TcpStream,
    settings: &Settings,
) -> Result<Option<H>, FrameError> {
    let mut input = Paced::from_first_byte(
        connection,
        settings.deadlines.header(),
        settings.idle_timeout,
    );
    frame::read_header::<H>(&mut input)
}
// ANCHOR_END: next_header

/// Sends an error reply; the session goes on. Returns the line to log.
fn refuse(
    output: &mut impl Write,
    command: &str,
    error: String,
    hint: &str,
) -> Result<String, FrameError> {
    frame::write_frame(output, &Reply::error(error.clone(), hint), b"")?;
    Ok(format!("{command}: refused: {error}"))
}

/// `dir`: the listing as a JSON array of `{"name", "size"}` in the body.
fn dir(output: &mut impl Write, settings: &Settings) -> Result<String, FrameError> {
    let entries = match settings.folder.list() {
        Ok(entries) => entries,
        Err(err) => {
            return refuse(
                output,
                "dir",
                format!("could not list the shared folder: {}", describe(&err)),
                "look at the server's log",
            );
        }
    };
    let listing = serde_json::to_vec(&entries).map_err(|err| {
        FrameError::BadHeader(format!("could not encode the listing: {err}"))
    })?;
    frame::write_frame(output, &Reply::ok(listing.len() as u64), &listing)?;
    Ok(format!("dir: listed {} file(s)", entries.len()))
}

/// `get NAME`: the file as the body, then its SHA-256 in the trailer.
fn get(
    output: &mut impl Write,
    request: &Request,
    settings: &Settings,
) -> Result<String, FrameError> {
    let Some(name) = &request.name else {
        return refuse(
            output,
            "get",
            "get needs a file name".to_string(),
            "send get with a name",
        );
    };
    // ANCHOR: get
    let (mut file, size) = match settings.folder.open_to_send(name) {
        Ok(opened) => opened,
        Err(refusal) => {
            let hint = refusal.hint();
            return refuse(output, "get", refusal.to_string(), hint);
        }
    };
    frame::write_header(output, &Reply::ok(size))?;
    let sha256 = protocol::send_file(output, &mut file, size, &mut |_| {})?;
    // ANCHOR_END: get
    Ok(format!(
        "get {name:?}: sent {size} bytes (SHA-256 {})",
        &sha256[..16]
    ))
}

/// `put NAME`: check, say `ready`, receive the file, verify it, store it.
fn put(
    connection: &TcpStream,
    output: &mut impl Write,
    request: &Request,
    settings: &Settings,
) -> Result<String, FrameError> {
    let (Some(name), Some(size)) = (&request.name, request.size) else {
        return refuse(
            output,
            "put",
            "put needs a file name and a size".to_string(),
            "send put with name and size",
        );
    };
    // ANCHOR: put_checks
    // Everything that can be refused is refused BEFORE the client sends a
    // single byte of the file: that is what the `ready` step is for.
    if size > settings.max_size {
        let (size, max_size) = format_sizes_apart(size, settings.max_size);
        return refuse(
            output,
            "put",
            format!("{name:?} has {size}, more than the {max_size} this server accepts"),
            "the server's owner can raise --max-size",
        );
    }
    if let Err(refusal) = settings.folder.check_writable(name) {
        let hint = refusal.hint();
        return refuse(output, "put", refusal.to_string(), hint);
    }
    let partial = match PartialFile::create(settings.folder.path(), name) {
        Ok(partial) => partial,
        Err(err) => {
            return refuse(
                output,
                "put",
                format!("the server could not create {name:?}: {}", describe(&err)),
                "look at the server's log",
            );
        }
    };
    frame::write_frame(output, &Reply::ready(), b"")?;
    output.flush()?;
    // ANCHOR_END: put_checks
    // ANCHOR: put_receive
    let content =
        next_header::<Content>(connection, settings)?.ok_or(FrameError::Truncated {
            part: "file frame",
            expected: 1,
            received: 0,
        })?;
    if content.body_size != size {
        return Err(FrameError::BadHeader(format!(
            "put announced {size} bytes but the file's frame has {}",
            content.body_size
        )));
    }
    // However big the file, it must keep up the minimum rate once its grace
    // period is over: a trickle is cut, and its temporary deleted.
    let mut body = Paced::from_now(connection, settings.deadlines.body())
        .with_idle(settings.idle_timeout);
    let line = match protocol::receive_file(&mut body, size, partial, &mut |_| {})? {
        Received::Stored(sha256) => {
            frame::write_frame(output, &Reply::stored(sha256.clone()), b"")?;
            format!(
                "put {name:?}: stored {size} bytes (SHA-256 {}, verified)",
                &sha256[..16]
            )
        }
        Received::Damaged { expected, actual } => refuse(
            output,
            "put",
            format!(
                "{name:?} arrived damaged: its SHA-256 is {actual} but the sender announced \
                 {expected}; nothing was stored"
            ),
            "send it again",
        )?,
        Received::DiskFailed(err) => refuse(
            output,
            "put",
            format!("the server could not store {name:?}: {}", describe(&err)),
            "the server's disk may be full; tell its owner",
        )?,
    };
    // ANCHOR_END: put_receive
    Ok(line)
}
