//! Lab 07's rubric: lines answered in capitals by a server that serves every
//! client from a few threads, never waits on one client, and sleeps while
//! nobody talks. The line checks go through the re-cutting proxy; the load
//! checks open 1,000 connections of the grader's own.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::contract::{CLIENT_TIMEOUT, expect_stdout};
use super::session::{Finding, Session, preview};
use super::{CHECK_TIMEOUT, Check, Role, contract};
use crate::proxy::Cut;
use socket2::{Domain, Protocol, Socket, Type};

/// The error line the Protocol section gives, byte for byte.
const TOO_LONG: &[u8] = b"error: line longer than 65536 bytes (hint: end each line with \\n; a line may hold at most 65536 bytes)\n";

/// The longest line the Protocol allows, not counting its `\n`.
const MAX_LINE: usize = 65_536;

/// How many clients the load checks hold at once.
const CLIENTS: usize = 1000;

/// How many times the flooder check measures ten round trips before it
/// fails: a busy machine (other checks run at the same time) can slow one
/// attempt; a server that waits on the flooder fails them all, or stalls.
const ATTEMPTS: usize = 3;

/// How many silent clients the idle check keeps connected: a loop that
/// tries every socket in turn pays for each of them on every pass.
const IDLE_CLIENTS: usize = 100;

/// Lab 07's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        contract::BUSY_PORT,
        contract::CLIENT_WITHOUT_SERVER,
        Check {
            id: "lines-answered",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers each line with the same bytes, a–z in capitals: empty lines, `\\r` and UTF-8 too",
            run: lines_answered,
        },
        Check {
            id: "split-lines",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers lines that arrive one byte at a time, once each is whole",
            run: split_lines,
        },
        Check {
            id: "merged-lines",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers every line of a read that brings several, forgetting none in its buffer",
            run: merged_lines,
        },
        Check {
            id: "thousand-at-once",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "1,000 clients connected at once each get their own reply",
            run: thousand_at_once,
        },
        Check {
            id: "few-threads",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "at most 4 server threads while 1,000 clients are connected (Linux: /proc/PID/status)",
            run: few_threads,
        },
        Check {
            id: "flooder-does-not-delay",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "beside a client that sends without ever reading, another client's round trips take under 100 ms",
            run: flooder_does_not_delay,
        },
        Check {
            id: "over-long-line",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a line of 65,536 bytes is answered; one of 65,537 gets the error line and the end of the stream, then 1 s of discarding, then the close",
            run: over_long_line,
        },
        Check {
            id: "zero-byte-read",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a client's half-close gets its replies then the end; an unfinished line gets none; others go on, also after a reset",
            run: zero_byte_read,
        },
        Check {
            id: "late-reader",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a client that sends 1 MiB of lines before it reads gets every reply in order, also when it half-closes",
            run: late_reader,
        },
        Check {
            id: "pauses",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "with `--idle-timeout 5`, a client that pauses 3.2 s after a reply, then 3.2 s in the middle of a line, is still answered",
            run: pauses,
        },
        Check {
            id: "idle-cpu",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "with 100 silent clients, is ready to run for under 1 s of 2 idle seconds: it waits for readiness, no busy-polling",
            run: idle_cpu,
        },
        Check {
            id: "client-lines",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends each argument as a line on one connection and prints each reply",
            run: client_lines,
        },
        Check {
            id: "client-longest-line",
            // The starter's client is finished code: no points for it.
            points: 0,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends a message of 65,536 bytes, the longest line, and prints its whole reply",
            run: client_longest_line,
        },
    ]
}

fn lines_answered(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    for line in ["hello, event loop\n", "\n", "Mixed Case\r\n", "café ß\n"] {
        let expected = line.as_bytes().to_ascii_uppercase();
        session.exchange(&mut stream, line.as_bytes(), &expected)?;
    }
    Ok(())
}

fn split_lines(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(2))?;
    let mut stream = session.connect(proxy)?;
    // One line at a time: this check is about a line cut into pieces, not
    // about several lines in one read (that is `merged-lines`).
    for line in ["split line\n", "and one more, mixed Case\n"] {
        session
            .exchange(&mut stream, line.as_bytes(), &line.as_bytes().to_ascii_uppercase())
            .map_err(|finding| {
                finding.diagnosis("a read may bring part of a line: keep it, and answer only when its \\n has come")
            })?;
    }
    Ok(())
}

fn merged_lines(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Merge, Duration::from_millis(50))?;
    let mut stream = session.connect(proxy)?;
    session
        .exchange(&mut stream, b"one\ntwo\nthree\n", b"ONE\nTWO\nTHREE\n")
        .map_err(|finding| {
            finding
                .diagnosis("one read brought three lines: answer all of them before reading again")
        })
}

/// Lets the grader itself hold `CLIENTS` sockets for each check that needs
/// them, all running at once (and `just check-fixtures` grades several
/// programs at once): as many files as the system lets this process open.
fn room_for_clients(session: &Session) -> Result<(), Finding> {
    let wanted = 3 * CLIENTS as u64;
    let now = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|err| Finding::new("the grader can raise its open-file limit", err.to_string()))?;
    if now < wanted {
        session.note(format!(
            "the grader may open only {now} files: raise `ulimit -n` if connects fail"
        ));
    }
    Ok(())
}

/// Opens `CLIENTS` connections, sends a line on each, and reads each reply.
fn hold_clients(session: &Session, addr: SocketAddr) -> Result<Vec<TcpStream>, Finding> {
    room_for_clients(session)?;
    let mut streams = Vec::with_capacity(CLIENTS);
    for index in 0..CLIENTS {
        let mut stream = session.connect(addr).map_err(|finding| {
            finding.diagnosis(format!(
                "{index} clients were connected; does the server raise its open-file limit, and is its backlog large?"
            ))
        })?;
        stream
            .write_all(format!("client {index}\n").as_bytes())
            .map_err(|err| Finding::new("the line can be sent", err.to_string()))?;
        streams.push(stream);
    }
    session.note(format!("{CLIENTS} clients connected, each sent a line"));
    for (index, stream) in streams.iter_mut().enumerate() {
        let expected = format!("CLIENT {index}\n");
        let reply = super::session::read_exactly(stream, expected.len()).map_err(|short| {
            Finding::new(
                format!("client {index}'s reply {expected:?}"),
                short.to_string(),
            )
            .diagnosis(short.diagnosis())
        })?;
        if reply != expected.as_bytes() {
            return Err(Finding::new(
                format!("client {index}'s reply {expected:?}"),
                format!("{:?}", preview(&reply)),
            ));
        }
    }
    session.note(format!(
        "all {CLIENTS} replies came, each to its own client"
    ));
    Ok(streams)
}

fn thousand_at_once(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    hold_clients(session, addr).map(drop)
}

/// A line of `/proc/PID/status`, such as `Threads:`, as a number.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status.lines().find_map(|line| line.strip_prefix(field))?;
    value.split_whitespace().next()?.parse().ok()
}

fn few_threads(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    if !cfg!(target_os = "linux") {
        session.note("not Linux: the thread count cannot be read from /proc; passed");
        return Ok(());
    }
    let streams = hold_clients(session, addr)?;
    let pid = session
        .server_pid(addr)
        .ok_or_else(|| Finding::new("the server's process id", "none"))?;
    let threads = proc_status(pid, "Threads:")
        .ok_or_else(|| Finding::new(format!("/proc/{pid}/status"), "unreadable"))?;
    session.note(format!(
        "with {} clients connected, /proc/{pid}/status says Threads: {threads}",
        streams.len()
    ));
    if threads > 4 {
        return Err(Finding::new("at most 4 threads", format!("{threads} threads"))
            .diagnosis("a thread per client does not scale: wait for readiness on every socket from one thread (select, poll, epoll, asyncio)"));
    }
    Ok(())
}

/// Writes lines on a non-blocking socket for `time`, whenever it takes
/// them, and never reads a reply: a client that floods the server. It stops
/// early if the server closes the connection. (Lab 07's own tests use it too.)
pub fn flood(flooder: &mut TcpStream, time: Duration) {
    let lines = b"never read this reply\n".repeat(3000);
    let until = Instant::now() + time;
    while Instant::now() < until {
        match flooder.write(&lines) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            // The server may close the flooder; the other client is what is graded.
            Err(_) => return,
        }
    }
}

/// How many bytes of replies the flooder's kernel holds for it: small, so a
/// server that blocks on a write to the flooder blocks at once, however slowly
/// a busy machine lets it run (loopback would otherwise grow it to megabytes).
const FLOODER_WINDOW: usize = 4096;

/// The largest segment a small-window connection accepts, in bytes: the
/// smallest every IPv4 host must take.
const SMALL_SEGMENT: u32 = 536;

/// A non-blocking connection whose receive window and largest segment are
/// fixed small before the handshake, so replies it does not read pile up in
/// the server: Linux sizes the server's send buffer by segments, so its
/// kernel then takes about 140 KiB of replies instead of 4 MiB, far under
/// the 256 KiB our server holds itself, and a server that blocks on a write
/// to it blocks at once, however slowly a busy machine lets it run.
pub fn connect_with_a_small_window(server: SocketAddr) -> Result<TcpStream, Finding> {
    let failed = |err: io::Error| {
        Finding::new(
            format!("the server accepts a connection on {server}"),
            super::session::connect_failure(&err),
        )
    };
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(failed)?;
    socket
        .set_recv_buffer_size(FLOODER_WINDOW)
        .map_err(failed)?;
    socket.set_tcp_mss(SMALL_SEGMENT).map_err(failed)?;
    socket
        .connect_timeout(&server.into(), Duration::from_secs(5))
        .map_err(failed)?;
    socket.set_nonblocking(true).map_err(failed)?;
    Ok(socket.into())
}

fn flooder_does_not_delay(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut flooder = connect_with_a_small_window(addr)?;
    let mut polite = session.connect(addr)?;
    session.note("a flooder sends lines for 0.3 s and never reads a reply");
    flood(&mut flooder, Duration::from_millis(300));
    let mut slow = 0;
    for attempt in 1..=ATTEMPTS {
        let mut times = Vec::new();
        for round in 0..10 {
            flood(&mut flooder, Duration::from_millis(5));
            let line = format!("attempt {attempt} round {round}\n");
            let started = Instant::now();
            session
                .exchange(&mut polite, line.as_bytes(), line.to_uppercase().as_bytes())
                .map_err(|finding| {
                    finding.diagnosis("the server waits on the flooder: a write that blocks (sendall) stops everyone; keep unsent replies and wait for WRITABLE")
                })?;
            times.push(started.elapsed());
        }
        session.note(format!("the other client's round trips: {times:?}"));
        slow = times
            .iter()
            .filter(|took| **took >= Duration::from_millis(100))
            .count();
        // One slow round in ten is allowed: other programs share the CPUs.
        if slow <= 1 {
            return Ok(());
        }
    }
    Err(Finding::new(
        "round trips under 100 ms",
        format!("{slow} of 10 took 100 ms or more, in each of {ATTEMPTS} attempts"),
    )
    .diagnosis("is the loop busy with the flooder's lines? stop reading from a client whose replies pile up"))
}

/// Reads until the server closes the connection, or says why it did not.
fn read_to_close(stream: &mut TcpStream, limit: u64) -> Result<Vec<u8>, Finding> {
    let mut all = Vec::new();
    stream.take(limit).read_to_end(&mut all).map_err(|err| {
        Finding::new("the end of the stream", err.to_string()).diagnosis(
            if err.kind() == io::ErrorKind::ConnectionReset {
                "a reset: close only after shutting down the sending side and reading what is left"
            } else {
                "the server did not close the connection"
            },
        )
    })?;
    Ok(all)
}

fn over_long_line(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let mut longest = vec![b'b'; MAX_LINE];
    longest.push(b'\n');
    session
        .exchange(&mut stream, &longest, &longest.to_ascii_uppercase())
        .map_err(|finding| finding.diagnosis("a line of exactly 65,536 bytes is allowed"))?;
    let mut too_long = b"fine\n".to_vec();
    too_long.extend(vec![b'a'; MAX_LINE + 1]);
    too_long.extend(b"\nafter\n");
    session.note(format!(
        "sending `fine\\n`, a line of {} bytes, then `after\\n`, then a line every 10 ms",
        MAX_LINE + 1
    ));
    stream
        .write_all(&too_long)
        .map_err(|err| Finding::new("the lines can be sent", err.to_string()))?;
    let mut expected = b"FINE\n".to_vec();
    expected.extend_from_slice(TOO_LONG);
    let ending = keep_sending(&mut stream, &expected)?;
    session.note(format!(
        "after the error line: the end of the stream {:?} later, a reset {:?} later",
        ending.end_of_stream, ending.reset
    ));
    if ending.end_of_stream >= AT_ONCE {
        return Err(Finding::new(
            format!("the end of the stream within {AT_ONCE:?} of the error line"),
            format!("{:?}", ending.end_of_stream),
        )
        .diagnosis("close the sending side (shutdown) as soon as the error line is sent"));
    }
    if ending.reset < AT_ONCE {
        return Err(Finding::new(
            format!("no reset for {AT_ONCE:?} after the error line, while the client still sends"),
            format!("a reset {:?} after it", ending.reset),
        )
        .diagnosis("closing with unread bytes resets the connection: read and discard what comes for 1 s first"));
    }
    Ok(())
}

/// How soon after the error line the end of the stream must come, and how
/// long before a reset may: the Protocol's "at once" and "one second", with
/// room on both sides for a busy machine.
const AT_ONCE: Duration = Duration::from_millis(500);

/// How long after the error line the server must have closed the whole
/// connection: its one second of discarding, and room for a busy machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(3);

/// When a client that keeps sending after the error line saw the server
/// end its sending side, then its whole connection.
struct Ending {
    /// From the error line (the last expected byte) to the end of the stream.
    end_of_stream: Duration,
    /// From the error line to the first send the connection refused.
    reset: Duration,
}

/// Reads until the end of the stream while sending a line every 10 ms, as
/// a client that has not noticed the error would, until a send fails: the
/// server closed the whole connection and the client's bytes were reset.
fn keep_sending(stream: &mut TcpStream, expected: &[u8]) -> Result<Ending, Finding> {
    stream
        .set_nonblocking(true)
        .map_err(|err| Finding::new("a non-blocking socket", err.to_string()))?;
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut error_line = None;
    let mut end_of_stream = None;
    let mut chunk = [0; 4096];
    let wrong = |seen: &[u8], then: String| {
        Finding::new(
            format!("{:?}, then the end of the stream", preview(expected)),
            format!("{:?}, then {then}", preview(seen)),
        )
        .diagnosis("the replies to the lines before, then the exact error line, then shut down the sending side; close only after reading what is left for 1 s")
    };
    loop {
        let now = Instant::now();
        if end_of_stream.is_none() {
            match stream.read(&mut chunk) {
                Ok(0) if seen == expected => end_of_stream = Some(now),
                Ok(0) => return Err(wrong(&seen, "the end of the stream".into())),
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(wrong(&seen, err.to_string())),
            }
            if !expected.starts_with(&seen) {
                return Err(wrong(&seen, "more".into()));
            }
            if error_line.is_none() && seen == expected {
                error_line = Some(now);
            }
        }
        if let Err(err) = stream.write(b"a line sent after the error line\n") {
            if err.kind() != io::ErrorKind::WouldBlock {
                return match (error_line, end_of_stream) {
                    (Some(error_line), Some(end_of_stream)) => Ok(Ending {
                        end_of_stream: end_of_stream - error_line,
                        reset: now - error_line,
                    }),
                    _ => Err(wrong(&seen, format!("a reset ({err})"))),
                };
            }
        }
        if now >= error_line.unwrap_or(started) + CLOSED_WITHIN {
            return Err(Finding::new(
                format!("the connection closed within {CLOSED_WITHIN:?} of the error line"),
                format!(
                    "{:?}, and the server still takes the client's bytes",
                    preview(&seen)
                ),
            )
            .diagnosis(if end_of_stream.is_none() {
                "after the error line, shut down the sending side"
            } else {
                "close the connection 1 s after the error line even if the client goes on sending"
            }));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn zero_byte_read(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    reset_with_replies_owed(session, addr)?;
    let mut other = session.connect(addr)?;
    other
        .write_all(b"half a ")
        .map_err(|err| Finding::new("the bytes can be sent", err.to_string()))?;
    let mut leaving = session.connect(addr)?;
    session.note("a client sends `one\\ntwo\\nno newline` and shuts down its sending side");
    leaving
        .write_all(b"one\ntwo\nno newline")
        .and_then(|()| leaving.shutdown(Shutdown::Write))
        .map_err(|err| Finding::new("the bytes and a half-close", err.to_string()))?;
    let seen = read_to_close(&mut leaving, 1024).map_err(|finding| {
        finding.diagnosis("after a 0-byte read, send the replies owed, then close; and a send that fails (the client before reset) ends only its own connection")
    })?;
    if seen != b"ONE\nTWO\n" {
        return Err(Finding::new(
            "\"ONE\\nTWO\\n\", then the end of the stream",
            format!("{:?}", preview(&seen)),
        )
        .diagnosis("after a 0-byte read, send every reply still owed, then close; an unfinished line gets no reply"));
    }
    session
        .exchange(&mut other, b"line\n", b"HALF A LINE\n")
        .map_err(|finding| finding.diagnosis("one client's end must not end the others"))
}

/// Bytes of lines the late reader sends in each round: far more replies than
/// the server's kernel takes for a small-window client, and than the 256 KiB
/// at which our server stops reading, so that it does.
const LATE_LINES: usize = 1024 * 1024;

/// How long the late reader waits, once its lines stop going out (all sent,
/// or the server stopped reading them), before it reads its first reply.
const READS_AFTER: Duration = Duration::from_millis(300);

/// How long no byte may move either way before the late reader gives up.
const STUCK: Duration = Duration::from_secs(3);

fn late_reader(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = connect_with_a_small_window(addr)?;
    session.note(format!(
        "a client with a {FLOODER_WINDOW}-byte receive window sends {} KiB of lines, reading only after {READS_AFTER:?}",
        LATE_LINES / 1024
    ));
    send_before_reading(session, &mut stream, 1, false)?;
    session.note(
        "every reply came; the same again, closing the sending side as soon as the lines are sent",
    );
    send_before_reading(session, &mut stream, 2, true)
}

/// Sends `LATE_LINES` bytes of lines, reads the replies only after
/// `READS_AFTER` (and sends the rest meanwhile), and checks every reply;
/// with `half_close`, closes its sending side once the lines are out and
/// then wants the end of the stream after the last reply.
fn send_before_reading(
    session: &Session,
    stream: &mut TcpStream,
    round: usize,
    half_close: bool,
) -> Result<(), Finding> {
    let mut lines = Vec::with_capacity(LATE_LINES + 64);
    while lines.len() < LATE_LINES {
        lines.extend(
            format!(
                "round {round}, line {} of a client that reads late\n",
                lines.len()
            )
            .bytes(),
        );
    }
    let expected = lines.to_ascii_uppercase();
    let mut sent = 0;
    let mut seen = Vec::with_capacity(expected.len());
    let mut chunk = vec![0; 64 * 1024];
    let mut moved_at = Instant::now();
    let mut reading = false;
    let failed = |what: &str, err: io::Error| Finding::new(what.to_string(), err.to_string());
    loop {
        let now = Instant::now();
        if sent < lines.len() {
            match stream.write(&lines[sent..]) {
                Ok(n) => {
                    sent += n;
                    moved_at = now;
                    if sent == lines.len() && half_close {
                        stream
                            .shutdown(Shutdown::Write)
                            .map_err(|err| failed("a half-close", err))?;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(failed("the lines can be sent", err)),
            }
        }
        // The first read waits until the lines have stopped going out:
        // by then the server holds all the replies it will before reading on.
        reading = reading || now - moved_at >= READS_AFTER;
        if reading {
            match stream.read(&mut chunk) {
                Ok(0) if half_close && seen.len() == expected.len() => return Ok(()),
                Ok(0) => {
                    return Err(Finding::new(
                        format!("{} bytes of replies", expected.len()),
                        format!("the end of the stream after {} bytes", seen.len()),
                    )
                    .diagnosis("a half-close ends the client's lines, not its replies: send every reply still owed, then close"));
                }
                Ok(n) => {
                    seen.extend_from_slice(&chunk[..n]);
                    moved_at = now;
                    if seen.len() > expected.len() || !expected.starts_with(&seen) {
                        let from = seen
                            .iter()
                            .zip(&expected)
                            .take_while(|(a, b)| a == b)
                            .count();
                        return Err(Finding::new(
                            format!(
                                "the replies in order, from byte {from}: {:?}",
                                preview(&expected[from..])
                            ),
                            format!("{:?}", preview(&seen[from..])),
                        ));
                    }
                    if seen.len() == expected.len() && !half_close {
                        session.note(format!(
                            "round {round}: all {} bytes of replies came in order",
                            seen.len()
                        ));
                        return Ok(());
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(failed("the replies can be read", err)),
            }
        }
        if now - moved_at >= STUCK {
            return Err(Finding::new(
                format!("{} bytes of replies", expected.len()),
                format!(
                    "{} bytes, {} of {} bytes of lines sent, then nothing moved for {STUCK:?}",
                    seen.len(),
                    sent,
                    lines.len()
                ),
            )
            .diagnosis("replies wait unsent: ask for WRITABLE while they do, write them when the client reads, then read its lines again"));
        }
        // A reader slower than the server (a few KiB every 2 ms), so that
        // replies keep waiting in the server until after the last line.
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn pauses(session: &mut Session) -> Result<(), Finding> {
    // Two pauses of PAUSE, each shorter than this timeout, their sum longer.
    let addr = session.start_server(&["--idle-timeout", "5"])?;
    let mut stream = session.connect(addr)?;
    session.exchange(&mut stream, b"before a pause\n", b"BEFORE A PAUSE\n")?;
    session.note(format!("pausing {PAUSE:?} after the reply"));
    std::thread::sleep(PAUSE);
    session.send(&mut stream, b"half a line, ", "half a line")?;
    session.note(format!("sent half a line; pausing {PAUSE:?}"));
    std::thread::sleep(PAUSE);
    session
        .exchange(&mut stream, b"then its end\n", b"HALF A LINE, THEN ITS END\n")
        .map_err(|finding| {
            finding.diagnosis("with --idle-timeout 5, close a connection only after 5 s without progress: push its deadline back on every byte received or sent")
        })
}

/// How long the pausing client waits, twice: far more than the 250 ms
/// between two sweeps of our server, 1.8 s less than the idle timeout it is
/// given (room for a busy machine), and together 1.4 s longer than it.
const PAUSE: Duration = Duration::from_millis(3200);

/// Opens a connection that sends lines without reading until replies pile
/// up in the server, then resets it: the server's next write to it fails,
/// and that must end only this connection (`zero-byte-read` goes on after).
fn reset_with_replies_owed(session: &Session, addr: SocketAddr) -> Result<(), Finding> {
    let mut rude = connect_with_a_small_window(addr)?;
    session.note(format!(
        "a client sends lines for {RUDE_FLOOD:?} without reading, then resets the connection"
    ));
    flood(&mut rude, RUDE_FLOOD);
    // A zero linger time makes close send a reset instead of a FIN.
    socket2::SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .map_err(|err| Finding::new("a linger time of 0", err.to_string()))?;
    drop(rude);
    Ok(())
}

/// How long the resetting client floods: long enough to fill the server's
/// send buffer (small: see `connect_with_a_small_window`) so that replies
/// wait in the server itself.
const RUDE_FLOOD: Duration = Duration::from_millis(200);

/// How long the threads of process `pid` have been runnable so far: on a
/// CPU, or waiting for one (`/proc/PID/task/*/schedstat`).
///
/// A server waiting in `epoll` is neither. A loop that never waits is always
/// one or the other, however busy the machine is: on a crowded machine its
/// CPU time would shrink, but not this.
fn runnable_time(pid: u32) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let mut fields = stat
            .split_whitespace()
            .map(|field| field.parse::<u64>().ok());
        let (on_cpu, waiting) = (fields.next()??, fields.next()??);
        total += Duration::from_nanos(on_cpu + waiting);
    }
    Some(total)
}

fn idle_cpu(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    if !cfg!(target_os = "linux") {
        session.note("not Linux: /proc cannot say how long the server ran; passed");
        return Ok(());
    }
    let mut clients = Vec::new();
    for index in 0..IDLE_CLIENTS {
        let mut stream = session.connect(addr)?;
        let line = format!("idle client {index}\n");
        session.exchange(&mut stream, line.as_bytes(), line.to_uppercase().as_bytes())?;
        clients.push(stream);
    }
    let pid = session
        .server_pid(addr)
        .ok_or_else(|| Finding::new("the server's process id", "none"))?;
    let unreadable = || Finding::new(format!("/proc/{pid}/task/*/schedstat"), "unreadable");
    let before = runnable_time(pid).ok_or_else(unreadable)?;
    session.note(format!(
        "{IDLE_CLIENTS} clients are connected and silent; waiting 2 s"
    ));
    std::thread::sleep(Duration::from_secs(2));
    let after = runnable_time(pid).ok_or_else(unreadable)?;
    let used = after.saturating_sub(before);
    session.note(format!(
        "the server's threads were running or waiting to run for {used:?} of those 2 s"
    ));
    // A loop that waits in epoll is ready to run only briefly after each
    // wake-up (even on a crowded machine, where it may wait for a CPU a while);
    // a loop that never waits is ready to run all the time.
    if used >= Duration::from_secs(1) {
        return Err(Finding::new("under 1 s", format!("{used:?}"))
            .diagnosis("the server spins while nobody talks: wait in select/poll/epoll instead of trying every socket in a loop"));
    }
    Ok(())
}

fn client_lines(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["one", "two words", "Mixed ü"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "ONE\nTWO WORDS\nMIXED ü\n", run.success)
}

fn client_longest_line(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let longest = "m".repeat(MAX_LINE);
    let run = session.run_client(addr, &[&longest], "", CLIENT_TIMEOUT)?;
    let expected = format!("{}\n", longest.to_uppercase());
    if run.stdout != expected || !run.success {
        return Err(Finding::new(
            format!(
                "stdout {:?} and exit status 0",
                preview(expected.as_bytes())
            ),
            run.seen(),
        )
        .diagnosis("a reply may hold 65,536 bytes before its \\n: keep reading until the \\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rubric_is_worth_100_points() {
        assert_eq!(checks().iter().map(|check| check.points).sum::<u32>(), 100);
    }

    #[test]
    fn the_runnable_time_of_this_process_is_read() {
        if cfg!(target_os = "linux") {
            assert!(runnable_time(std::process::id()).is_some_and(|time| !time.is_zero()));
        }
    }
}
