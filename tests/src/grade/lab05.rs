//! Lab 05's rubric: frames (length prefix, JSON header, body) read whole
//! however the stream is cut. The server checks go through the re-cutting
//! proxy: a reader that treats one read as one frame passes on loopback and
//! fails here every time.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::contract::CLIENT_TIMEOUT;
use super::session::{Finding, REPLY_TIMEOUT, Session, accept_within, preview};
use super::wire::{bad_length, frame, read_frame};
use super::{CHECK_TIMEOUT, Check, Role, contract};
use crate::proxy::Cut;

/// Lab 05's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        contract::BUSY_PORT,
        contract::CLIENT_WITHOUT_SERVER,
        Check {
            id: "hello-report",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers a `hello` request frame with the exact reply frame (body_size, crc32, body)",
            run: hello,
        },
        Check {
            id: "every-report",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers `empty`, `numbers` and `echo` (all 256 byte values) exactly, on one connection",
            run: every_report,
        },
        Check {
            id: "large-reply",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "sends a 4 MB `numbers` reply whole and intact, far larger than any read buffer",
            run: large_reply,
        },
        Check {
            id: "one-byte-at-a-time",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "reassembles request frames that arrive one byte at a time (read exactly N bytes, in a loop)",
            run: one_byte_at_a_time,
        },
        Check {
            id: "merged-writes",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "reads a frame whose prefix, header and body arrive merged into one read",
            run: merged_writes,
        },
        Check {
            id: "random-cuts",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "serves 10 echo requests whose bytes arrive cut at random places",
            run: random_cuts,
        },
        Check {
            id: "refuses-unknown-report",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "refuses an unknown report with an `error` reply and keeps the connection open (runs nothing)",
            run: refuses_unknown_report,
        },
        Check {
            id: "survives-bad-frames",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a huge header length, bad JSON or a frame cut short affect only that client: others are served",
            run: survives_bad_frames,
        },
        Check {
            id: "client-through-proxy",
            points: 10,
            role: Role::Client,
            // Its client runs for up to 20 s through a proxy that delays every byte.
            timeout: Duration::from_secs(45),
            title: "the client gets intact replies when every byte arrives separately",
            run: client_through_proxy,
        },
        Check {
            id: "client-checks-crc",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client refuses a reply whose CRC-32 does not match its body, with one `error:` line",
            run: client_checks_crc,
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
    session.send(stream, &frame(request, request_body), "the request")?;
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

fn hello(session: &mut Session) -> Result<(), Finding> {
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

fn every_report(session: &mut Session) -> Result<(), Finding> {
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

fn large_reply(session: &mut Session) -> Result<(), Finding> {
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

fn one_byte_at_a_time(session: &mut Session) -> Result<(), Finding> {
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

fn merged_writes(session: &mut Session) -> Result<(), Finding> {
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
        session.send(&mut stream, part, "the request")?;
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

fn random_cuts(session: &mut Session) -> Result<(), Finding> {
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

fn refuses_unknown_report(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let request = json!({"report": "rm -rf /tmp/x", "body_size": 0});
    session.note(format!("request: {request}"));
    session.send(&mut stream, &frame(&request, b""), "the request")?;
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

fn survives_bad_frames(session: &mut Session) -> Result<(), Finding> {
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

fn client_through_proxy(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let proxy = session.proxy(addr, Cut::Bytes, Duration::from_millis(1))?;
    let run = session.run_client(
        proxy,
        &["hello", "echo cut into pieces"],
        "",
        Duration::from_secs(20),
    )?;
    if !run.success {
        session.note("asking the client once more, to see the first bytes it sends");
        if let Some(wrong) = first_request_problem(session)? {
            return Err(wrong);
        }
        return Err(Finding::new(
            "exit status 0: both replies arrived intact",
            format!(
                "a non-zero exit status; it said: {}",
                contract::last_line(&run.stderr)
            ),
        )
        .diagnosis(
            "its requests are well formed, so the replies were misread: a read returns whatever \
             has arrived, so loop until the whole prefix, header and body are in",
        ));
    }
    Ok(())
}

/// Runs the client once against the grader and looks at the length prefix
/// of its first request: a finding if the prefix is wrong (a length in the
/// wrong byte order, say), `None` if it is right or never came.
fn first_request_problem(session: &Session) -> Result<Option<Finding>, Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    let wait = session.patient(CLIENT_TIMEOUT);
    let reader = thread::spawn(move || -> Option<[u8; 4]> {
        let mut conn = accept_within(&listener, wait).ok()?;
        conn.set_read_timeout(Some(REPLY_TIMEOUT)).ok()?;
        let mut prefix = [0; 4];
        conn.read_exact(&mut prefix).ok()?;
        Some(prefix)
    });
    session.run_client(addr, &["hello"], "", CLIENT_TIMEOUT)?;
    Ok(reader
        .join()
        .ok()
        .flatten()
        .and_then(bad_length)
        .map(|finding| finding.about("the client's request: ")))
}

fn client_checks_crc(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: its hello reply carries a wrong crc32"
    ));
    // Says whether the damaged reply went out: a client that fails without
    // asking has not shown that it checks anything.
    let wait = session.patient(CLIENT_TIMEOUT);
    let server = thread::spawn(move || -> Result<(), Option<Finding>> {
        let mut conn = accept_within(&listener, wait).map_err(|_| None)?;
        let _ = conn.set_read_timeout(Some(REPLY_TIMEOUT));
        let mut prefix = [0; 4];
        conn.read_exact(&mut prefix).map_err(|_| None)?;
        if let Some(wrong) = bad_length(prefix) {
            return Err(Some(wrong.about("the client's request: ")));
        }
        let mut header = vec![0; u32::from_be_bytes(prefix) as usize];
        conn.read_exact(&mut header).map_err(|_| None)?;
        let wrong = crc32(HELLO) ^ 1;
        conn.write_all(&frame(
            &json!({"body_size": HELLO.len(), "crc32": wrong}),
            HELLO,
        ))
        .map_err(|_| None)?;
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
        Ok(())
    });
    let run = session.run_client(addr, &["hello"], "", CLIENT_TIMEOUT)?;
    match server.join().unwrap_or(Err(None)) {
        Ok(()) => {}
        Err(Some(wrong)) => return Err(wrong),
        Err(None) => return Err(contract::never_asked("reply", &run.stderr)),
    }
    if run.success {
        return Err(Finding::new(
            "a non-zero exit status: the reply was damaged",
            "exit status 0",
        )
        .diagnosis("compute the CRC-32 of the body and compare it with the header's crc32"));
    }
    contract::expect_one_error_line(&run.stderr)
}
