//! The client's load mode (`--connections N --rounds R`): N clients at once.
//!
//! Ten thousand clients made of ten thousand threads would measure our own
//! threads, not the server. So the load is an event loop too, with mio: every
//! connection is a non-blocking socket in one `Poll`, on one thread.
//!
//! It runs in two phases. First every connection is opened, and all are held
//! open together: the server must hold N clients at once. Then every
//! connection sends a line, waits for its reply, and does it again, R times,
//! all connections at the same time.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use shared::Failure;
use shared::failure::describe;

/// What to do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where the server listens.
    pub server: SocketAddr,
    /// How many connections are held open at once.
    pub connections: usize,
    /// Round trips per connection.
    pub rounds: usize,
    /// Bytes per line, `\n` included.
    pub line_size: usize,
    /// The most the whole run may take; what is not done by then failed.
    pub deadline: Duration,
}

/// What happened.
#[derive(Debug, Default)]
pub struct Report {
    /// How long each successful connect took.
    pub connect_times: Vec<Duration>,
    /// From the first connect to the last one done.
    pub all_connected: Duration,
    /// How long each round trip took, from the send to its whole reply.
    pub round_trip_times: Vec<Duration>,
    /// From the first send to the last reply.
    pub rounds_elapsed: Duration,
    /// Connections that failed, with the first reason seen.
    pub failures: usize,
    /// Why the first failure happened.
    pub first_failure: Option<String>,
}

impl Report {
    /// Round trips completed per second of the second phase.
    pub fn round_trips_per_second(&self) -> f64 {
        self.round_trip_times.len() as f64 / self.rounds_elapsed.as_secs_f64().max(1e-9)
    }

    /// Counts one failed connection, keeping the first reason for the report.
    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.first_failure.get_or_insert(why);
    }
}

/// The value below which `fraction` of `times` lie (0.5: the median).
pub fn percentile(times: &[Duration], fraction: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let last = sorted.len().saturating_sub(1);
    sorted
        .get((last as f64 * fraction).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// Where one connection is.
enum Stage {
    /// `connect` was called; the handshake is under way.
    Connecting,
    /// Connected, waiting for the other connections.
    Connected,
    /// A line is out; its reply is awaited.
    Asking {
        /// Which round, from 0.
        round: usize,
        /// When its line began to be sent, to time the round trip.
        sent_at: Instant,
        /// How much of the line is sent: a write may take only part.
        written: usize,
    },
    /// Every round done (or failed): nothing more to do.
    Done,
}

/// One connection of the load.
struct Peer {
    /// The socket, non-blocking.
    stream: TcpStream,
    /// Where it is.
    stage: Stage,
    /// When its connect began, to time the connect.
    started: Instant,
    /// The line of the current round, `\n` included.
    line: Vec<u8>,
    /// The bytes of its reply received so far.
    reply: Vec<u8>,
}

/// Runs the plan: opens every connection, then does every round trip.
pub fn run(plan: &Plan) -> Result<Report, Failure> {
    let mut poll = Poll::new().map_err(|err| Failure::io("create the poll", &err))?;
    let mut events = Events::with_capacity(1024);
    let mut report = Report::default();
    let deadline = Instant::now() + plan.deadline;

    // Phase 1: start every connect at once; none of them waits.
    let started = Instant::now();
    let mut peers = Vec::with_capacity(plan.connections);
    for index in 0..plan.connections {
        match start_connect(&poll, plan.server, Token(index)) {
            Ok(stream) => peers.push(Some(Peer {
                stream,
                stage: Stage::Connecting,
                started: Instant::now(),
                line: Vec::new(),
                reply: Vec::new(),
            })),
            Err(err) => {
                report.fail(format!("connect: {}", describe(&err)));
                peers.push(None);
            }
        }
    }
    let mut waiting = peers.iter().flatten().count();
    while waiting > 0 && wait(&mut poll, &mut events, deadline)? {
        for event in events.iter() {
            let Some(peer) = peers.get_mut(event.token().0).and_then(Option::as_mut)
            else {
                continue;
            };
            if !matches!(peer.stage, Stage::Connecting) {
                continue;
            }
            match connect_outcome(&peer.stream) {
                Ok(false) => continue, // not yet: the event was a hint only
                Ok(true) => {
                    report.connect_times.push(peer.started.elapsed());
                    peer.stage = Stage::Connected;
                }
                Err(err) => {
                    report.fail(format!("connect: {}", describe(&err)));
                    peers[event.token().0] = None;
                }
            }
            waiting -= 1;
        }
    }
    report.all_connected = started.elapsed();
    for slot in &mut peers {
        if matches!(
            slot,
            Some(Peer {
                stage: Stage::Connecting,
                ..
            })
        ) {
            report.fail("connect: no answer before the deadline".to_string());
            *slot = None;
        }
    }

    // Phase 2: every connected peer asks its first line; replies drive the rest.
    let rounds_started = Instant::now();
    let mut busy = 0;
    for (index, slot) in peers.iter_mut().enumerate() {
        if let Some(peer) = slot {
            if plan.rounds == 0 {
                peer.stage = Stage::Done;
                continue;
            }
            busy += 1;
            start_round(peer, index, 0, plan.line_size);
            if let Err(why) = pump(peer, index, plan, &mut report) {
                report.fail(why);
                *slot = None;
                busy -= 1;
            } else if matches!(peer.stage, Stage::Done) {
                busy -= 1;
            }
        }
    }
    while busy > 0 && wait(&mut poll, &mut events, deadline)? {
        for event in events.iter() {
            let index = event.token().0;
            let Some(peer) = peers.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if matches!(peer.stage, Stage::Done) {
                continue;
            }
            match pump(peer, index, plan, &mut report) {
                Ok(()) if matches!(peer.stage, Stage::Done) => busy -= 1,
                Ok(()) => {}
                Err(why) => {
                    report.fail(why);
                    peers[index] = None;
                    busy -= 1;
                }
            }
        }
    }
    report.rounds_elapsed = rounds_started.elapsed();
    let unfinished = peers
        .iter()
        .flatten()
        .filter(|peer| !matches!(peer.stage, Stage::Done))
        .count();
    for _ in 0..unfinished {
        report.fail("round trip: no reply before the deadline".to_string());
    }
    Ok(report)
}

/// Starts a non-blocking connect and registers the socket for both
/// directions: WRITABLE says when the connect is done, READABLE when
/// replies come. Edge-triggered, so being registered costs nothing while
/// nothing changes.
fn start_connect(poll: &Poll, server: SocketAddr, token: Token) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(server)?;
    poll.registry().register(
        &mut stream,
        token,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(stream)
}

/// Whether a connect has finished: `Ok(true)` connected, `Ok(false)` not yet.
///
/// A WRITABLE event on a connecting socket means "done, one way or the
/// other": `take_error` says if it failed, and `peer_addr` answers only
/// once the connection is really up.
fn connect_outcome(stream: &TcpStream) -> io::Result<bool> {
    if let Some(err) = stream.take_error()? {
        return Err(err);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(err) => Err(err),
    }
}

/// Waits for events until `deadline`; `Ok(false)` when time is up.
fn wait(
    poll: &mut Poll,
    events: &mut Events,
    deadline: Instant,
) -> Result<bool, Failure> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        match poll.poll(events, Some(left)) {
            Ok(()) => return Ok(true),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(Failure::io("wait for events", &err)),
        }
    }
}

/// Prepares round `round` of connection `index`: a line of `size` bytes,
/// in lower case so that its reply differs from it.
fn start_round(peer: &mut Peer, index: usize, round: usize, size: usize) {
    peer.line.clear();
    peer.line
        .extend_from_slice(format!("client {index} round {round} ").as_bytes());
    peer.line.resize(size.max(peer.line.len() + 1) - 1, b'x');
    peer.line.push(b'\n');
    peer.reply.clear();
    peer.stage = Stage::Asking {
        round,
        sent_at: Instant::now(),
        written: 0,
    };
}

/// Moves one connection along: writes what is left of its line, reads what
/// has come of its reply, checks a whole reply and starts the next round,
/// until the socket says `WouldBlock`.
fn pump(
    peer: &mut Peer,
    index: usize,
    plan: &Plan,
    report: &mut Report,
) -> Result<(), String> {
    let mut chunk = [0; 4096];
    loop {
        let Stage::Asking {
            round,
            sent_at,
            written,
        } = &mut peer.stage
        else {
            return Ok(());
        };
        if *written < peer.line.len() {
            match peer.stream.write(&peer.line[*written..]) {
                Ok(n) => *written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(format!("send: {}", describe(&err))),
            }
            continue;
        }
        let n = match peer.stream.read(&mut chunk) {
            Ok(0) => {
                return Err(
                    "the server closed the connection before replying".to_string()
                );
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(format!("read: {}", describe(&err))),
        };
        peer.reply.extend_from_slice(&chunk[..n]);
        if peer.reply.len() < peer.line.len() {
            continue;
        }
        if peer.reply != peer.line.to_ascii_uppercase() {
            return Err(format!(
                "wrong reply: sent {:?}, got {:?}",
                String::from_utf8_lossy(&peer.line),
                String::from_utf8_lossy(&peer.reply)
            ));
        }
        report.round_trip_times.push(sent_at.elapsed());
        let next = *round + 1;
        if next == plan.rounds {
            peer.stage = Stage::Done;
            return Ok(());
        }
        start_round(peer, index, next, plan.line_size);
    }
}
