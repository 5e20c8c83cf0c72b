//! The lesson: one thread serves every client, with a readiness loop.
//!
//! Lab 02 gave each client a thread that *blocks* in `read` until bytes
//! come. Here no call ever blocks: every socket is non-blocking, and one call,
//! `poll`, waits for all of them at once and says which are *ready*. Then we
//! do, for each ready socket, whatever it is ready for, and wait again.
//!
//! mio (the layer tokio stands on) gives `poll` the same shape on every
//! system: epoll on Linux, kqueue on macOS and the BSDs.
//!
//! **Edge-triggered.** epoll can report readiness two ways. *Level-triggered*
//! (the way `select` and `poll` work) reports a socket again on every wait
//! for as long as it has unread bytes. *Edge-triggered*, the way mio works,
//! reports it once, when it *becomes* ready; if we read only part of what
//! waits, no new event comes for the rest until more bytes arrive. So after
//! an event we must read (or accept, or write) until the call answers
//! `WouldBlock`, "nothing more now": that answer is the only sure sign the
//! event has been used up. Every loop below ends on `WouldBlock`.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use shared::Failure;
use shared::failure::describe;

use crate::lines::{self, LineTooLong};
use crate::server::{Ending, GENTLE_CLOSE_TIME, Milestones, READ_CHUNK, Settings};

/// The listener's token; each connection gets the next unused number.
const LISTENER: Token = Token(0);

/// Replies waiting for a client, above which we stop reading from it.
///
/// This is backpressure. A client that sends lines but never reads the
/// replies would otherwise make us buffer replies without end. Once this
/// much waits, we stop reading its lines: they wait in the kernel's buffers,
/// those fill, and the client's own writes block. It slows only itself.
pub const MAX_PENDING: usize = 256 * 1024;

/// Reads one connection may do before the others get their turn.
///
/// Draining a socket until `WouldBlock` is a must with edge-triggered
/// events, but a client that sends without pause would then keep the loop
/// to itself: its socket never runs dry. So each connection gets a few reads
/// per turn, and one that still has bytes waiting is served again on the
/// next turn, after everyone else (epoll's manual calls this starvation).
const READS_PER_TURN: usize = 4;

/// What a connection needs from the loop after its turn.
#[derive(Debug)]
enum Turn {
    /// Its socket said `WouldBlock`: an event will say when to go on.
    Wait,
    /// Its turn ended with bytes perhaps still waiting: serve it again
    /// without waiting for an event, which will not come.
    Again,
    /// The connection is over.
    End(Ending),
}

/// Serves every client on this one thread, until the process is stopped.
pub fn serve(
    listener: std::net::TcpListener,
    settings: &Settings,
) -> Result<(), Failure> {
    // ANCHOR: setup
    // A blocking accept or read would stop the whole server: every socket
    // must answer WouldBlock instead of waiting.
    listener
        .set_nonblocking(true)
        .map_err(|err| Failure::io("make the listener non-blocking", &err))?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().map_err(|err| Failure::io("create the poll", &err))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|err| Failure::io("register the listener", &err))?;
    // ANCHOR_END: setup
    let mut events = Events::with_capacity(1024);
    let mut connections: HashMap<Token, Connection> = HashMap::new();
    let mut next_token = LISTENER.0 + 1;
    // One read buffer serves every connection: there is only one thread.
    let mut chunk = vec![0; READ_CHUNK];
    let mut milestones = Milestones::default();
    // How often idle connections are looked for: often enough that one is
    // closed soon after its timeout, rarely enough to cost nothing.
    let sweep_every = (settings.idle_timeout / 4).min(Duration::from_millis(250));
    let mut next_sweep = Instant::now() + sweep_every;

    // Connections that used up their turn with bytes still waiting (see
    // READS_PER_TURN): no event will come for those bytes, so we come back.
    let mut unfinished: Vec<Token> = Vec::new();

    // ANCHOR: event_loop
    loop {
        // Sleep until a socket is ready or the next sweep is due. A server
        // with nothing to do uses no CPU at all here. With unfinished
        // connections, only look for events, without sleeping.
        let timeout = if unfinished.is_empty() {
            next_sweep.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        };
        if let Err(err) = poll.poll(&mut events, Some(timeout)) {
            if err.kind() == io::ErrorKind::Interrupted {
                continue; // a signal woke us; nothing is wrong
            }
            return Err(Failure::io("wait for events", &err));
        }
        let mut turn = std::mem::take(&mut unfinished);
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(
                    &listener,
                    &poll,
                    &mut connections,
                    &mut next_token,
                    settings,
                );
                milestones.connected(connections.len());
            } else {
                // Readable, writable or both: `serve_turn` tries everything
                // this connection could do now, so the flags are not needed.
                turn.push(event.token());
            }
        }
        turn.sort_unstable();
        turn.dedup();
        for token in turn {
            // An event may come for a connection closed earlier in this
            // same turn: such stray events are normal, and skipped.
            let Some(connection) = connections.get_mut(&token) else {
                continue;
            };
            match connection.serve_turn(&mut chunk, settings) {
                Turn::End(ending) => {
                    close(&poll, &mut connections, token, ending, settings)
                }
                turn => {
                    if matches!(turn, Turn::Again) {
                        unfinished.push(token);
                    }
                    if let Err(err) = connection.update_interest(poll.registry(), token) {
                        close(
                            &poll,
                            &mut connections,
                            token,
                            Ending::Failed(err),
                            settings,
                        );
                    }
                }
            }
        }
        if Instant::now() >= next_sweep {
            close_expired(&poll, &mut connections, settings);
            next_sweep = Instant::now() + sweep_every;
        }
    }
    // ANCHOR_END: event_loop
}

/// Accepts every waiting client, until `accept` says `WouldBlock`.
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    next_token: &mut usize,
    settings: &Settings,
) {
    // ANCHOR: accept_all
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // No one else is waiting: the event is used up.
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                // Most often "too many open files". Trying again at once
                // would fail again; the next client's arrival retries.
                eprintln!("could not accept a connection: {}", describe(&err));
                return;
            }
        };
        let token = Token(*next_token);
        *next_token += 1;
        // Only READABLE: nothing is waiting to be written yet.
        if let Err(err) = poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            eprintln!("{peer}: could not register: {}", describe(&err));
            continue;
        }
        if settings.log_connections {
            eprintln!("{peer}: connected");
        }
        connections.insert(token, Connection::new(stream, peer, settings));
    }
    // ANCHOR_END: accept_all
}

/// Removes a connection: deregisters it, logs how it ended, and drops the
/// socket, which closes it.
fn close(
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    token: Token,
    ending: Ending,
    settings: &Settings,
) {
    if let Some(mut connection) = connections.remove(&token) {
        // After this, `poll` never reports this token again.
        let _ = poll.registry().deregister(&mut connection.stream);
        ending.log(connection.peer, settings);
    }
}

/// Closes every connection whose time is up: idle too long, or refused and
/// given its [`GENTLE_CLOSE_TIME`].
fn close_expired(
    poll: &Poll,
    connections: &mut HashMap<Token, Connection>,
    settings: &Settings,
) {
    let now = Instant::now();
    let expired: Vec<Token> = connections
        .iter()
        .filter(|(_, connection)| connection.expires <= now)
        .map(|(token, _)| *token)
        .collect();
    for token in expired {
        let ending = match connections.get(&token).map(|c| &c.reading) {
            Some(Reading::Refused) => Ending::TooLong,
            _ => Ending::Silent,
        };
        close(poll, connections, token, ending, settings);
    }
}

/// Where a connection is in its reading.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    /// Reading lines and answering them.
    Lines,
    /// The client closed its side: send the replies still waiting, then close.
    Ended,
    /// The client's line was too long: the error line is queued; what the
    /// client still sends is read and thrown away until it closes.
    Refused,
}

/// One client: its socket and its two buffers.
struct Connection {
    /// The client's socket, non-blocking.
    stream: TcpStream,
    /// The client's address, for the log.
    peer: SocketAddr,
    /// Bytes read but not yet a whole line.
    incoming: Vec<u8>,
    /// Replies not yet written; the first `written` bytes of it are sent.
    outgoing: Vec<u8>,
    /// How much of `outgoing` is sent: an offset, so that a partial write
    /// does not move the rest of the buffer each time.
    written: usize,
    /// Whether we read lines, wait to finish, or discard after an error.
    reading: Reading,
    /// What `poll` is asked to watch for on this socket now.
    interest: Interest,
    /// When to close this connection if nothing moves before then.
    expires: Instant,
    /// Lines answered, for the log.
    answered: u64,
    /// Bytes of an unfinished line found when the client closed.
    unfinished: usize,
    /// Whether our side was shut down after the error line.
    shut_down: bool,
}

impl Connection {
    /// A new client, registered for READABLE.
    fn new(stream: TcpStream, peer: SocketAddr, settings: &Settings) -> Connection {
        Connection {
            stream,
            peer,
            // Empty until the first read: an idle connection costs no buffer.
            incoming: Vec::new(),
            outgoing: Vec::new(),
            written: 0,
            reading: Reading::Lines,
            interest: Interest::READABLE,
            expires: Instant::now() + settings.idle_timeout,
            answered: 0,
            unfinished: 0,
            shut_down: false,
        }
    }

    /// Bytes of replies still to write.
    fn pending(&self) -> usize {
        self.outgoing.len() - self.written
    }

    /// Whether we take more bytes from this client now.
    fn wants_to_read(&self) -> bool {
        match self.reading {
            Reading::Lines => self.pending() <= MAX_PENDING,
            Reading::Ended => false,
            Reading::Refused => true,
        }
    }

    /// Does what this connection can do now: write what is pending, read
    /// what has come, answer the lines, until the socket says `WouldBlock`,
    /// backpressure says stop, or its turn is over.
    fn serve_turn(&mut self, chunk: &mut [u8], settings: &Settings) -> Turn {
        // STARTER: up to READS_PER_TURN times: write_pending, stop if !wants_to_read, read: 0 ends the input, n goes to take, WouldBlock ends the turn
        // ANCHOR: serve_turn
        for _ in 0..READS_PER_TURN {
            if let Err(err) = self.write_pending(settings) {
                return Turn::End(Ending::Failed(err));
            }
            // Backpressure: with too many replies unread, leave the client's
            // lines in the kernel. When a WRITABLE event lets us write them,
            // this loop comes back here and reads on at once: with
            // edge-triggered events, no new READABLE event would come for
            // bytes that were already waiting.
            if !self.wants_to_read() {
                return self.waiting_or_done();
            }
            match self.stream.read(chunk) {
                // 0 bytes: the client closed its side. Its last replies are
                // still sent; a half line left over will never be finished.
                Ok(0) => {
                    self.unfinished = self.incoming.len();
                    self.incoming = Vec::new();
                    if self.reading == Reading::Refused {
                        return Turn::End(Ending::TooLong);
                    }
                    self.reading = Reading::Ended;
                }
                Ok(n) => self.take(&chunk[..n], settings),
                // Nothing more for now: the event is used up.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Turn::Wait,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Turn::End(Ending::Failed(err)),
            }
        }
        // Turn over, and the socket may hold more: come back next turn.
        Turn::Again
        // ANCHOR_END: serve_turn
        // STARTER_END
    }

    /// After a turn that stopped reading: finished, or waiting for WRITABLE.
    fn waiting_or_done(&self) -> Turn {
        if self.reading == Reading::Ended && self.pending() == 0 {
            Turn::End(Ending::Closed {
                answered: self.answered,
                unfinished: self.unfinished,
            })
        } else {
            Turn::Wait
        }
    }

    /// Handles bytes just read: answers the complete lines among them.
    fn take(&mut self, bytes: &[u8], settings: &Settings) {
        if self.reading == Reading::Refused {
            return; // thrown away: see GENTLE_CLOSE_TIME
        }
        self.expires = Instant::now() + settings.idle_timeout;
        self.incoming.extend_from_slice(bytes);
        match lines::answer_lines(&mut self.incoming, &mut self.outgoing) {
            Ok(answered) => self.answered += answered as u64,
            Err(LineTooLong) => {
                self.outgoing.extend_from_slice(lines::TOO_LONG);
                self.incoming = Vec::new();
                self.reading = Reading::Refused;
                self.expires = Instant::now() + GENTLE_CLOSE_TIME;
            }
        }
    }

    /// Writes pending replies until none are left or the socket says `WouldBlock`.
    fn write_pending(&mut self, settings: &Settings) -> io::Result<()> {
        // ANCHOR: write_pending
        while self.pending() > 0 {
            match self.stream.write(&self.outgoing[self.written..]) {
                Ok(n) => {
                    self.written += n;
                    if self.reading != Reading::Refused {
                        self.expires = Instant::now() + settings.idle_timeout;
                    }
                }
                // The client's receive buffer is full: it is not reading.
                // A WRITABLE event will say when there is room again.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Drop what is sent once it outweighs what is not, so
                    // a client that reads slowly but never catches up
                    // cannot grow the buffer without end; each byte is
                    // moved at most once on average.
                    if self.written > self.pending() {
                        self.outgoing.drain(..self.written);
                        self.written = 0;
                    }
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        // All sent: start the buffer again from the front, and give back
        // the memory a burst of replies took, so that 10,000 quiet
        // clients hold almost nothing.
        self.written = 0;
        if self.outgoing.capacity() > READ_CHUNK {
            self.outgoing = Vec::new();
        } else {
            self.outgoing.clear();
        }
        // ANCHOR_END: write_pending
        if self.reading == Reading::Refused && !self.shut_down {
            // The error line is out: our FIN follows it.
            self.shut_down = true;
            self.stream.shutdown(Shutdown::Write)?;
        }
        Ok(())
    }

    /// Asks `poll` for exactly what this connection waits for now.
    fn update_interest(
        &mut self,
        registry: &mio::Registry,
        token: Token,
    ) -> io::Result<()> {
        // ANCHOR: update_interest
        // WRITABLE only while replies wait: a socket with room in its send
        // buffer is writable nearly all the time, and asking for that would
        // wake us for nothing. READABLE only while we want the client's lines.
        let wanted = match (self.wants_to_read(), self.pending() > 0) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) => Interest::READABLE,
            (false, _) => Interest::WRITABLE,
        };
        if wanted != self.interest {
            // `reregister` replaces the interest; it does not add to it.
            registry.reregister(&mut self.stream, token, wanted)?;
            self.interest = wanted;
        }
        // ANCHOR_END: update_interest
        Ok(())
    }
}
