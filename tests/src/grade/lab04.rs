//! Lab 04's rubric: a byte stream has no messages, only bytes; the server
//! counts its reads and bytes, and reports after the client's half-close.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use super::contract::{CLIENT_TIMEOUT, last_line};
use super::session::{
    Finding, REPLY_TIMEOUT, Session, accept_within, preview, read_failure, write_failure,
};
use super::{CHECK_TIMEOUT, Check, Role, contract};
use crate::proxy::Cut;

/// Lab 04's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        contract::BUSY_PORT,
        contract::CLIENT_WITHOUT_SERVER,
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
            title: "the client writes its messages as given, half-closes, and reads the report",
            run: client_half_closes,
        },
    ]
}

/// Sends `writes` one by one on a fresh connection to `addr`, half-closes,
/// and returns the report line.
fn half_close_and_report(
    session: &Session,
    addr: SocketAddr,
    writes: &[&[u8]],
) -> Result<(u64, u64), Finding> {
    let mut stream = session.connect(addr)?;
    for write in writes {
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
    let counted = half_close_and_report(session, addr, &[b"red green\0\xff\n\r"])?;
    expect_bytes(counted, 13, 1..=13)
}

fn counts_a_cut_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(5))?;
    let counted = half_close_and_report(session, proxy, &[&[b'x'; 30]])?;
    expect_bytes(counted, 30, 2..=30)
}

fn large_write_is_cut(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = half_close_and_report(session, addr, &[&[b'a'; 10_000]])?;
    expect_bytes(counted, 10_000, 10..=10_000)
}

fn empty_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = half_close_and_report(session, addr, &[])?;
    expect_bytes(counted, 0, 0..=0)
}

fn clients_at_once(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut first = session.connect(addr)?;
    session.send(&mut first, b"first, still open", "the bytes")?;
    session.note("the first client stays connected while a second one sends and half-closes");
    let second = half_close_and_report(session, addr, &[b"second"]).map_err(|finding| {
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

fn client_half_closes(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: it records every byte until the end of the stream"
    ));
    let wait = session.patient(CLIENT_TIMEOUT);
    let server = thread::spawn(move || -> Result<Vec<u8>, String> {
        let mut conn = accept_within(&listener, wait)
            .map_err(|_| format!("no connection within {} s", wait.as_secs()))?;
        conn.set_read_timeout(Some(REPLY_TIMEOUT))
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
        let report = format!("reads=1 bytes={}\n", received.len());
        conn.write_all(report.as_bytes())
            .map_err(|err| err.to_string())?;
        Ok(received)
    });
    let run = session.run_client(addr, &["one", "two", "three"], "", CLIENT_TIMEOUT)?;
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
    if received != b"onetwothree" {
        return Err(Finding::new(
            "the bytes \"onetwothree\"",
            format!("{:?}", preview(&received)),
        ));
    }
    if !run.success {
        return Err(Finding::new(
            "exit status 0 after the report",
            "a non-zero exit status",
        ));
    }
    Ok(())
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
