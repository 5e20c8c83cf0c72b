//! The rubrics of the stream labs: 04 (no framing, counted) and 05 (framed).
//!
//! Lab 05's checks go through the re-cutting proxy: a reader that treats one
//! read as one frame passes on loopback and fails here every time.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::Check;
use super::session::{Finding, Session, preview};
use super::wire::{frame, read_frame};
use crate::proxy::Cut;

/// Lab 04's own checks.
pub fn lab04() -> Vec<Check> {
    vec![
        Check {
            id: "counts-every-byte",
            points: 20,
            title: "after the client's half-close, reports `reads=R bytes=B` with B exactly the bytes sent, then closes",
            run: lab04_counts_every_byte,
        },
        Check {
            id: "counts-a-cut-stream",
            points: 15,
            title: "counts each read as it comes: 30 bytes arriving one at a time make several reads, not one",
            run: lab04_counts_a_cut_stream,
        },
        Check {
            id: "large-write-is-cut",
            points: 15,
            title: "one 10000-byte write cannot fit a 1024-byte read: at least 10 reads are reported",
            run: lab04_large_write_is_cut,
        },
        Check {
            id: "empty-stream",
            points: 10,
            title: "a client that sends nothing and half-closes gets `reads=0 bytes=0`",
            run: lab04_empty_stream,
        },
        Check {
            id: "clients-at-once",
            points: 10,
            title: "two clients connected at once each get their own report",
            run: lab04_clients_at_once,
        },
        Check {
            id: "client-half-closes",
            points: 15,
            title: "the client writes its messages as given, half-closes, and reads the report",
            run: lab04_client_half_closes,
        },
    ]
}

/// Sends `writes` one by one on a fresh connection to `addr`, half-closes,
/// and returns the report line.
fn lab04_report(
    session: &Session,
    addr: SocketAddr,
    writes: &[&[u8]],
) -> Result<(u64, u64), Finding> {
    let mut stream = session.connect(addr)?;
    for write in writes {
        stream
            .write_all(write)
            .map_err(|err| Finding::new("the bytes can be sent", err.to_string()))?;
    }
    let total: usize = writes.iter().map(|write| write.len()).sum();
    session.note(format!(
        "sent {total} bytes in {} write(s), then shut down the sending side",
        writes.len()
    ));
    stream
        .shutdown(Shutdown::Write)
        .map_err(|err| Finding::new("a half-close", err.to_string()))?;
    let mut report = Vec::new();
    stream
        .take(64)
        .read_to_end(&mut report)
        .map_err(|err| {
            Finding::new("a report line, then the end of the stream", err.to_string())
                .diagnosis("the report comes after the client's half-close: does the server treat a 0-byte read as the end?")
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

fn lab04_counts_every_byte(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = lab04_report(session, addr, &[b"red green\0\xff\n\r"])?;
    expect_bytes(counted, 13, 1..=13)
}

fn lab04_counts_a_cut_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(5))?;
    let counted = lab04_report(session, proxy, &[&[b'x'; 30]])?;
    expect_bytes(counted, 30, 2..=30)
}

fn lab04_large_write_is_cut(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = lab04_report(session, addr, &[&[b'a'; 10_000]])?;
    expect_bytes(counted, 10_000, 10..=10_000)
}

fn lab04_empty_stream(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let counted = lab04_report(session, addr, &[])?;
    expect_bytes(counted, 0, 0..=0)
}

fn lab04_clients_at_once(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut first = session.connect(addr)?;
    first
        .write_all(b"first, still open")
        .map_err(|err| Finding::new("the bytes can be sent", err.to_string()))?;
    session.note("the first client stays connected while a second one sends and half-closes");
    let second = lab04_report(session, addr, &[b"second"]).map_err(|finding| {
        finding.diagnosis(
            "the second client got no report while the first was connected: one client at a time?",
        )
    })?;
    expect_bytes(second, 6, 1..=6)?;
    first
        .shutdown(Shutdown::Write)
        .map_err(|err| Finding::new("a half-close", err.to_string()))?;
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

fn lab04_client_half_closes(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: it records every byte until the end of the stream"
    ));
    let server = thread::spawn(move || -> Result<Vec<u8>, String> {
        let (mut conn, _) = listener.accept().map_err(|err| err.to_string())?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|err| err.to_string())?;
        let mut received = Vec::new();
        conn.read_to_end(&mut received)
            .map_err(|err| format!("no end of stream (half-close) within 5 s: {err}"))?;
        let report = format!("reads=1 bytes={}\n", received.len());
        conn.write_all(report.as_bytes())
            .map_err(|err| err.to_string())?;
        Ok(received)
    });
    let run = session.run_client(addr, &["one", "two", "three"], "", Duration::from_secs(10))?;
    let received = server
        .join()
        .map_err(|_| Finding::new("the grader's server runs", "it panicked"))?
        .map_err(|seen| Finding::new("the client's bytes, then its half-close", seen).diagnosis(
            "the client must shut down its sending side (shutdown(Write)) so the server sees the end",
        ))?;
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

/// Lab 05's own checks.
pub fn lab05() -> Vec<Check> {
    vec![
        Check {
            id: "hello-report",
            points: 10,
            title: "answers a `hello` request frame with the exact reply frame (body_size, crc32, body)",
            run: lab05_hello,
        },
        Check {
            id: "every-report",
            points: 10,
            title: "answers `empty`, `numbers` and `echo` (all 256 byte values) exactly, on one connection",
            run: lab05_every_report,
        },
        Check {
            id: "large-reply",
            points: 10,
            title: "sends a 4 MB `numbers` reply whole and intact, far larger than any read buffer",
            run: lab05_large_reply,
        },
        Check {
            id: "one-byte-at-a-time",
            points: 15,
            title: "reassembles request frames that arrive one byte at a time (read exactly N bytes, in a loop)",
            run: lab05_one_byte_at_a_time,
        },
        Check {
            id: "merged-writes",
            points: 10,
            title: "reads a frame whose prefix, header and body arrive merged into one read",
            run: lab05_merged_writes,
        },
        Check {
            id: "random-cuts",
            points: 10,
            title: "serves 10 echo requests whose bytes arrive cut at random places",
            run: lab05_random_cuts,
        },
        Check {
            id: "refuses-unknown-report",
            points: 10,
            title: "refuses an unknown report with an `error` reply and keeps the connection open (runs nothing)",
            run: lab05_refuses_unknown,
        },
        Check {
            id: "survives-bad-frames",
            points: 10,
            title: "a huge header length, bad JSON or a frame cut short affect only that client: others are served",
            run: lab05_survives_bad_frames,
        },
        Check {
            id: "client-through-proxy",
            points: 10,
            title: "the client gets intact replies when every byte arrives separately",
            run: lab05_client_through_proxy,
        },
        Check {
            id: "client-checks-crc",
            points: 5,
            title: "the client refuses a reply whose CRC-32 does not match its body, with one `error:` line",
            run: lab05_client_checks_crc,
        },
    ]
}

/// Sends a request and checks the reply's body (and its CRC-32).
fn expect_reply(
    session: &Session,
    stream: &mut TcpStream,
    request: &Value,
    request_body: &[u8],
    expected_body: &[u8],
) -> Result<(), Finding> {
    session.note(format!(
        "request: {request} with {} body bytes",
        request_body.len()
    ));
    stream
        .write_all(&frame(request, request_body))
        .map_err(|err| Finding::new("the request can be sent", err.to_string()))?;
    let (header, body) = read_frame(session, stream)?;
    if let Some(error) = header.get("error") {
        return Err(Finding::new(
            "a reply without `error`",
            format!("error: {error}"),
        ));
    }
    if body != expected_body {
        return Err(Finding::new(
            format!(
                "a body of {} bytes: {:?}",
                expected_body.len(),
                preview(expected_body)
            ),
            format!("{} bytes: {:?}", body.len(), preview(&body)),
        ));
    }
    if header["crc32"].as_u64() != Some(u64::from(crc32(&body))) {
        return Err(Finding::new(
            format!("crc32 {}", crc32(&body)),
            format!("crc32 {}", header["crc32"]),
        ));
    }
    Ok(())
}

/// The `numbers` report's body: 0\n1\n2\n… cut to `count` bytes.
fn numbers(count: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(count + 16);
    let mut n = 0u64;
    while body.len() < count {
        body.extend_from_slice(format!("{n}\n").as_bytes());
        n += 1;
    }
    body.truncate(count);
    body
}

/// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320), bit by bit:
/// the grader's own, so that it does not trust the lab's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const HELLO: &[u8] = b"hello from the lab 05 server";

fn lab05_hello(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "hello", "body_size": 0}),
        b"",
        HELLO,
    )
}

fn lab05_every_report(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let every_byte: Vec<u8> = (0..=255).collect();
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "empty", "body_size": 0}),
        b"",
        b"",
    )?;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "numbers", "count": 12, "body_size": 0}),
        b"",
        b"0\n1\n2\n3\n4\n5\n",
    )?;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "echo", "body_size": 256}),
        &every_byte,
        &every_byte,
    )
}

fn lab05_large_reply(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let count = 4_000_000;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "numbers", "count": count, "body_size": 0}),
        b"",
        &numbers(count),
    )
}

fn lab05_one_byte_at_a_time(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(1))?;
    let mut stream = session.connect(proxy)?;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "hello", "body_size": 0}),
        b"",
        HELLO,
    )?;
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "echo", "body_size": 5}),
        b"a\0b\nc",
        b"a\0b\nc",
    )
    .map_err(|finding| {
        finding.diagnosis(
            "a read returns whatever has arrived: loop until the whole header and body are in",
        )
    })
}

fn lab05_merged_writes(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Merge, Duration::from_millis(50))?;
    let mut stream = session.connect(proxy)?;
    let request = frame(&json!({"report": "echo", "body_size": 7}), b"merged!");
    session.note("writing the prefix, the header and the body separately; the proxy merges them");
    for part in [
        &request[..4],
        &request[4..request.len() - 7],
        &request[request.len() - 7..],
    ] {
        stream
            .write_all(part)
            .map_err(|err| Finding::new("the request can be sent", err.to_string()))?;
    }
    let (header, body) = read_frame(session, &mut stream)?;
    if body != b"merged!" || header.get("error").is_some() {
        return Err(Finding::new(
            "the body \"merged!\" back",
            format!("{header} {:?}", preview(&body)),
        )
        .diagnosis("bytes read past the header belong to the body: keep them, do not read again"));
    }
    Ok(())
}

fn lab05_random_cuts(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let proxy = session.proxy(addr, Cut::Random, Duration::from_millis(1))?;
    let mut stream = session.connect(proxy)?;
    for i in 0..10usize {
        let body: Vec<u8> = (0..i * 23).map(|j| (i * 31 + j * 7) as u8).collect();
        expect_reply(
            session,
            &mut stream,
            &json!({"report": "echo", "body_size": body.len()}),
            &body,
            &body,
        )?;
    }
    Ok(())
}

fn lab05_refuses_unknown(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let request = json!({"report": "rm -rf /tmp/x", "body_size": 0});
    session.note(format!("request: {request}"));
    stream
        .write_all(&frame(&request, b""))
        .map_err(|err| Finding::new("the request can be sent", err.to_string()))?;
    let (header, body) = read_frame(session, &mut stream)?;
    if header.get("error").and_then(Value::as_str).is_none() || !body.is_empty() {
        return Err(Finding::new(
            "a reply with an `error` string and an empty body",
            header.to_string(),
        ));
    }
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "hello", "body_size": 0}),
        b"",
        HELLO,
    )
    .map_err(|finding| {
        finding.diagnosis("after a refusal the connection stays open for the next request")
    })
}

fn lab05_survives_bad_frames(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let bad: [(&str, Vec<u8>); 3] = [
        (
            "a header length of 4294967295",
            vec![0xFF, 0xFF, 0xFF, 0xFF],
        ),
        ("a header that is not JSON", {
            let mut bytes = 5u32.to_be_bytes().to_vec();
            bytes.extend_from_slice(b"{oops");
            bytes
        }),
        (
            "a frame cut short",
            frame(&json!({"report": "echo", "body_size": 100}), b"only ten b"),
        ),
    ];
    for (what, bytes) in bad {
        let mut stream = session.connect(addr)?;
        session.note(format!("sending {what}, then closing"));
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(Shutdown::Write);
        let mut anything = Vec::new();
        let _ = stream.take(1 << 16).read_to_end(&mut anything);
        let mut next = session.connect(addr).map_err(|finding| {
            finding.diagnosis(format!(
                "after {what}, the server no longer accepts: did one bad frame stop it?"
            ))
        })?;
        expect_reply(
            session,
            &mut next,
            &json!({"report": "hello", "body_size": 0}),
            b"",
            HELLO,
        )?;
    }
    Ok(())
}

fn lab05_client_through_proxy(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(1))?;
    let run = session.run_client(
        proxy,
        &["hello", "echo cut into pieces"],
        "",
        Duration::from_secs(20),
    )?;
    if !run.success {
        return Err(Finding::new(
            "exit status 0: both replies arrived intact",
            "a non-zero exit status",
        )
        .diagnosis(
            "a read returns whatever has arrived: loop until the whole header and body are in",
        ));
    }
    Ok(())
}

fn lab05_client_checks_crc(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: its hello reply carries a wrong crc32"
    ));
    thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut prefix = [0; 4];
            if conn.read_exact(&mut prefix).is_ok() {
                let mut header = vec![0; u32::from_be_bytes(prefix).min(65_536) as usize];
                let _ = conn.read_exact(&mut header);
                let wrong = crc32(HELLO) ^ 1;
                let _ = conn.write_all(&frame(
                    &json!({"body_size": HELLO.len(), "crc32": wrong}),
                    HELLO,
                ));
                let mut rest = Vec::new();
                let _ = conn.read_to_end(&mut rest);
            }
        }
    });
    let run = session.run_client(addr, &["hello"], "", Duration::from_secs(10))?;
    if run.success {
        return Err(Finding::new(
            "a non-zero exit status: the reply was damaged",
            "exit status 0",
        )
        .diagnosis("compute the CRC-32 of the body and compare it with the header's crc32"));
    }
    super::rubrics::expect_one_error_line(&run.stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graders_crc32_matches_zlib() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(HELLO), 4_266_717_251);
    }

    #[test]
    fn a_report_line_is_parsed_strictly() {
        assert_eq!(parse_report(b"reads=2 bytes=12\n"), Some((2, 12)));
        assert_eq!(parse_report(b"reads=2 bytes=12"), None);
        assert_eq!(parse_report(b"reads= 2 bytes=12\n"), None);
        assert_eq!(numbers(12), b"0\n1\n2\n3\n4\n5\n");
    }
}
