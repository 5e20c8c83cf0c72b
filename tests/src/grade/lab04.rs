//! Lab 04's rubric: a byte stream has no messages, only bytes; the server
//! counts its reads and bytes, and reports after the client's half-close.

use std::io::Read;
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use super::contract::{CLIENT_TIMEOUT, expect_one_error_line, last_line};
use super::session::{
    Finding, PIECE_PAUSE, REPLY_TIMEOUT, Session, accept_within, preview, read_failure,
    write_failure, write_in_pieces,
};
use super::{CHECK_TIMEOUT, Check, Role, contract};
use crate::proxy::Cut;

/// Lab 04's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        contract::BUSY_PORT,
        contract::client_without_server(|session| {
            contract::fails_clearly_without_server(session, &CLIENT_MESSAGES)
        }),
        Check {
            id: "counts-every-byte",
            points: 20,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "after the client's half-close, reports `reads=R bytes=B` with B exactly the bytes sent, then closes",
            run: counts_every_byte,
        },
        Check {
            id: "counts-a-cut-stream",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "counts each read as it comes: 30 bytes arriving one at a time make several reads, not one",
            run: counts_a_cut_stream,
        },
        Check {
            id: "large-write-is-cut",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "one 10000-byte write cannot fit a 1024-byte read: at least 10 reads are reported",
            run: large_write_is_cut,
        },
        Check {
            id: "counts-across-a-pause",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a pause in the client's writes is not the end: only the half-close is, and every byte is counted",
            run: counts_across_a_pause,
        },
        Check {
            id: "empty-stream",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a client that sends nothing and half-closes gets `reads=0 bytes=0`",
            run: empty_stream,
        },
        Check {
            id: "clients-at-once",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "two clients connected at once each get their own report",
            run: clients_at_once,
        },
        Check {
            id: "client-half-closes",
            points: 15,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client writes its messages as given, half-closes, reads the report and prints its two counts",
            run: client_half_closes,
        },
        Check {
            id: "client-reads-whole-report",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client reads the report until the end of the stream, even when it arrives in pieces",
            run: client_reads_whole_report,
        },
        Check {
            id: "client-checks-the-count",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "a report whose byte count is not what the client sent ends the client with one `error:` line",
            run: client_checks_the_count,
        },
    ]
}

/// Sends `writes` one by one on a fresh connection to `addr`, with `pause`
/// between them, half-closes, and returns the report line.
fn half_close_and_report(
    session: &Session,
    addr: SocketAddr,
    writes: &[&[u8]],
    pause: Duration,
) -> Result<(u64, u64), Finding> {
    let mut stream = session.connect(addr)?;
    for (index, write) in writes.iter().enumerate() {
        if index > 0 && !pause.is_zero() {
            session.note(format!(
                "pausing {} s before the next write",
                pause.as_secs_f64()
            ));
            thread::sleep(pause);
        }
        session.send(&mut stream, write, "the bytes")?;
    }
    let total: usize = writes.iter().map(|write| write.len()).sum();
    session.note(format!(
        "sent {total} bytes in {} write(s), then shut down the sending side",
        writes.len()
    ));
    stream
        .shutdown(Shutdown::Write)
        .map_err(|err| Finding::new("a half-close", write_failure(&err)))?;
    let mut report = Vec::new();
    stream
        .take(64)
        .read_to_end(&mut report)
        .map_err(|err| {
            let seen = match preview(&report) {
                got if got.is_empty() => read_failure(&err),
                got => format!("{got:?}, then {}", read_failure(&err)),
            };
            session.explain_exit(
                Finding::new("a report line, then the end of the stream", seen)
                    .diagnosis("the report comes after the client's half-close: does the server take a 0-byte read as the end, then write its report and close?"),
            )
        })?;
    session.note(format!("report: {:?}", preview(&report)));
    parse_report(&report).ok_or_else(|| {
        Finding::new(
            "exactly `reads=R bytes=B\\n`",
            format!("{:?}", preview(&report)),
        )
    })
}

/// `reads=R bytes=B\n` → (R, B).
fn parse_report(report: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(report).ok()?.strip_suffix('\n')?;
    let (reads, bytes) = text.strip_prefix("reads=")?.split_once(" bytes=")?;
    let plain = |number: &str| !number.is_empty() && number.chars().all(|c| c.is_ascii_digit());
    (plain(reads) && plain(bytes)).then_some(())?;
    Some((reads.parse().ok()?, bytes.parse().ok()?))
}

fn expect_bytes(
    counted: (u64, u64),
    bytes: u64,
    reads: std::ops::RangeInclusive<u64>,
) -> Result<(), Finding> {
    let (r, b) = counted;
    if b != bytes {
        return Err(Finding::new(format!("bytes={bytes}"), format!("bytes={b}"))
            .diagnosis("every byte sent must be counted once, whatever the reads look like"));
    }
    if !reads.contains(&r) {
        return Err(Finding::new(
            format!("reads between {} and {}", reads.start(), reads.end()),
            format!("reads={r}"),
        ));
    }
    Ok(())
}

fn counts_every_byte(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = half_close_and_report(session, addr, &[b"red green\0\xff\n\r"], Duration::ZERO)?;
    expect_bytes(counted, 13, 1..=13)
}

fn counts_a_cut_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(5))?;
    let counted = half_close_and_report(session, proxy, &[&[b'x'; 30]], Duration::ZERO)?;
    expect_bytes(counted, 30, 2..=30)
}

fn large_write_is_cut(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = half_close_and_report(session, addr, &[&[b'a'; 10_000]], Duration::ZERO)?;
    expect_bytes(counted, 10_000, 10..=10_000)
}

/// How long `counts-across-a-pause` waits between two writes: longer than
/// any "nothing more is coming" guess a server might make, much shorter than
/// the Protocol's 30-second idle timeout.
const WRITE_PAUSE: Duration = Duration::from_secs(2);

fn counts_across_a_pause(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let writes: [&[u8]; 2] = [b"before the pause, ", b"and after it"];
    half_close_and_report(session, addr, &writes, WRITE_PAUSE)
        .and_then(|counted| expect_bytes(counted, 30, 2..=30))
        .map_err(|finding| {
            finding.diagnosis(format!(
                "the client paused {} s between two writes: a pause is not the end of its data, \
                 only the 0-byte read after its half-close is",
                WRITE_PAUSE.as_secs()
            ))
        })
}

fn empty_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = half_close_and_report(session, addr, &[], Duration::ZERO)?;
    expect_bytes(counted, 0, 0..=0)
}

fn clients_at_once(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut first = session.connect(addr)?;
    session.send(&mut first, b"first, still open", "the bytes")?;
    session.note("the first client stays connected while a second one sends and half-closes");
    let second =
        half_close_and_report(session, addr, &[b"second"], Duration::ZERO).map_err(|finding| {
            finding.diagnosis(
            "the second client got no report while the first was connected: one client at a time?",
        )
        })?;
    expect_bytes(second, 6, 1..=6)?;
    first
        .shutdown(Shutdown::Write)
        .map_err(|err| Finding::new("a half-close", write_failure(&err)))?;
    let mut report = Vec::new();
    let _ = first.take(64).read_to_end(&mut report);
    let counted = parse_report(&report).ok_or_else(|| {
        Finding::new(
            "the first client's report",
            format!("{:?}", preview(&report)),
        )
    })?;
    expect_bytes(counted, 17, 1..=17)
}

/// The messages the client checks give the client, and what they add up to.
const CLIENT_MESSAGES: [&str; 3] = ["one", "two", "three"];

/// How the grader, playing the server, sends its report: whole, or in
/// pieces with a pause between them.
struct Delivery {
    /// The report line.
    report: &'static str,
    /// How many pieces it is cut into.
    pieces: usize,
    /// The pause between two pieces.
    pause: Duration,
}

/// The grader plays lab 04's server for the student's client: it records
/// the client's bytes until its half-close, then sends `delivery`'s report
/// and closes. Returns the client's run.
fn play_server(
    session: &Session,
    delivery: Delivery,
) -> Result<super::session::ClientRun, Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: it records every byte until the end of the stream, \
         then sends the report {:?} in {} piece(s), {} ms apart",
        delivery.report,
        delivery.pieces,
        delivery.pause.as_millis()
    ));
    let wait = session.patient(CLIENT_TIMEOUT);
    let server = thread::spawn(move || -> Result<Vec<u8>, String> {
        let mut conn = accept_within(&listener, wait)
            .map_err(|_| format!("no connection within {} s", wait.as_secs()))?;
        conn.set_read_timeout(Some(REPLY_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(REPLY_TIMEOUT)))
            .map_err(|err| err.to_string())?;
        let mut received = Vec::new();
        conn.read_to_end(&mut received).map_err(|_| {
            format!(
                "{} bytes ({:?}), then no end of stream (half-close) within {} s",
                received.len(),
                preview(&received),
                REPLY_TIMEOUT.as_secs()
            )
        })?;
        // The client may already have given up (a one-read client often
        // has): what it printed is judged, not whether this write worked.
        let _ = write_in_pieces(
            &mut conn,
            delivery.report.as_bytes(),
            delivery.pieces,
            delivery.pause,
        );
        Ok(received)
    });
    let run = session.run_client(addr, &CLIENT_MESSAGES, "", CLIENT_TIMEOUT)?;
    let received = server
        .join()
        .map_err(|_| Finding::new("the grader's server runs", "it panicked"))?
        .map_err(|seen| {
            let finding = Finding::new("the client's bytes, then its half-close", seen);
            if run.success {
                finding.diagnosis("the client must shut down its sending side (shutdown(Write)) so the server sees the end")
            } else {
                finding.diagnosis(format!(
                    "the client exited with an error instead: {}",
                    last_line(&run.stderr)
                ))
            }
        })?;
    let sent = CLIENT_MESSAGES.concat();
    if received != sent.as_bytes() {
        return Err(Finding::new(
            format!("the bytes {sent:?}"),
            format!("{:?}", preview(&received)),
        ));
    }
    Ok(run)
}

/// The line the Protocol asks the client to print for a report of `reads`
/// and `bytes` (both more than 1 here, so in the plural).
fn expect_report_line(
    run: &super::session::ClientRun,
    reads: u64,
    bytes: u64,
) -> Result<(), Finding> {
    let wanted = format!("the server read {bytes} bytes in {reads} reads");
    if !run.stdout.lines().any(|line| line.starts_with(&wanted)) {
        return Err(Finding::new(
            format!("a line on stdout that begins {wanted:?}"),
            format!("{:?}", preview(run.stdout.as_bytes())),
        ));
    }
    if !run.success {
        return Err(Finding::new(
            "exit status 0 after the report",
            format!("a non-zero exit status: {}", last_line(&run.stderr)),
        ));
    }
    Ok(())
}

fn client_half_closes(session: &mut Session) -> Result<(), Finding> {
    let run = play_server(
        session,
        Delivery {
            report: "reads=2 bytes=11\n",
            pieces: 1,
            pause: Duration::ZERO,
        },
    )?;
    expect_report_line(&run, 2, 11)
}

fn client_reads_whole_report(session: &mut Session) -> Result<(), Finding> {
    let run = play_server(
        session,
        Delivery {
            report: "reads=5 bytes=11\n",
            pieces: 3,
            pause: PIECE_PAUSE,
        },
    )?;
    expect_report_line(&run, 5, 11).map_err(|finding| {
        finding.diagnosis(
            "the report came in three pieces, half a second apart: one read returns only what has \
             arrived, so read until the end of the stream (a 0-byte read)",
        )
    })
}

fn client_checks_the_count(session: &mut Session) -> Result<(), Finding> {
    let run = play_server(
        session,
        Delivery {
            report: "reads=2 bytes=12\n",
            pieces: 1,
            pause: Duration::ZERO,
        },
    )?;
    session.note("the report says 12 bytes; the client sent 11");
    if run.success {
        return Err(Finding::new(
            "a non-zero exit status: the server counted 12 bytes, the client sent 11",
            "exit status 0",
        )
        .diagnosis("compare the report's byte count with the bytes sent: a difference means bytes were lost"));
    }
    expect_one_error_line(&run.stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_line_is_parsed_strictly() {
        assert_eq!(parse_report(b"reads=2 bytes=12\n"), Some((2, 12)));
        assert_eq!(parse_report(b"reads=2 bytes=12"), None);
        assert_eq!(parse_report(b"reads= 2 bytes=12\n"), None);
    }
}
