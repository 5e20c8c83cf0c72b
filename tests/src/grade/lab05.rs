//! Lab 05's rubric: frames (length prefix, JSON header, body) read whole
//! however the stream is cut. The server checks go through the re-cutting
//! proxy: a reader that treats one read as one frame passes on loopback and
//! fails here every time.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::contract::CLIENT_TIMEOUT;
use super::session::{
    Finding, REPLY_TIMEOUT, Session, TRANSFER_TIMEOUT, accept_within, preview, write_failure,
};
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
            // Up to 20 s for a busy server to compute the reply, then its transfer.
            timeout: Duration::from_secs(45),
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
            title: "a header length of 0 or 4294967295, bad JSON, too big a body or a frame cut short: an error reply and the close for that client, and others are served",
            run: survives_bad_frames,
        },
        Check {
            id: "slow-request-is-cut",
            points: 5,
            role: Role::Server,
            // The request timeout is 10 s; the reply and the close may come 5 s late.
            timeout: CHECK_TIMEOUT,
            title: "a request whose prefix and header have not all come 10 s after its first byte gets an error reply and the close",
            run: slow_request_is_cut,
        },
        Check {
            id: "lingers-after-error",
            // Given code: close_gently.
            points: 0,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "after a broken frame's error reply, the server reads what the client still sends (no reset), then closes within a second",
            run: lingers_after_error,
        },
        Check {
            id: "largest-echo",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "an `echo` of exactly 1,048,576 bytes, the most the Protocol allows, is answered byte for byte",
            run: largest_echo,
        },
        Check {
            id: "largest-header",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a request whose header is 65,536 bytes long, the most the Protocol allows, is answered",
            run: largest_header,
        },
        Check {
            id: "wrong-types-are-broken",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a header with a field of the wrong type (`\"0\"`, `0.0`, `-1`, `true`) or without `report` is a broken frame: an error reply, then the close",
            run: wrong_types_are_broken,
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
            id: "client-after-refusal",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "a refused report is a good answer: the client prints its line, asks for the next report and exits 0",
            run: client_goes_on_after_refusal,
        },
        Check {
            id: "client-sends-reports",
            // Given code: turning `numbers N` and `echo TEXT` into requests.
            points: 0,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends `numbers N` with its count and `echo TEXT` with TEXT as the body, and checks what comes back",
            run: client_sends_reports,
        },
        Check {
            id: "client-checks-crc",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client refuses a reply whose CRC-32 does not match its body, with one `error:` line",
            run: client_checks_crc,
        },
        Check {
            id: "client-checks-body",
            // Given code: check() compares the body with the numbers.
            points: 0,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client refuses a `numbers` reply whose body is not the numbers, even with a matching CRC-32",
            run: client_checks_body,
        },
        Check {
            id: "client-largest-reply",
            points: 5,
            role: Role::Client,
            // 32 MiB to generate, check and compare on a busy machine.
            timeout: Duration::from_secs(60),
            title: "the client takes the largest reply the Protocol allows, `numbers 33554432`, prints its line and exits 0",
            run: client_largest_reply,
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
    if header["crc32"].as_u64() != Some(u64::from(crc32fast::hash(&body))) {
        return Err(Finding::new(
            format!("crc32 {}", crc32fast::hash(&body)),
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

const HELLO: &[u8] = b"hello from the lab 05 server";

/// Asks for the `hello` report on `stream` and checks the exact reply: the
/// request every check uses to see that a connection still works.
fn expect_hello(session: &Session, stream: &mut TcpStream) -> Result<(), Finding> {
    expect_reply(
        session,
        stream,
        &json!({"report": "hello", "body_size": 0}),
        b"",
        HELLO,
    )
}

fn hello(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    expect_hello(session, &mut stream)
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
    // The header carries the body's CRC-32, so a server computes the whole
    // 4 MB body before it can send a byte: on a busy machine, an interpreted
    // one may need far longer than a small reply's 5 s (check-flakes saw it).
    stream
        .set_read_timeout(Some(TRANSFER_TIMEOUT))
        .map_err(|err| Finding::new("a longer timeout can be set", err.to_string()))?;
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
    expect_hello(session, &mut stream)?;
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
    expect_hello(session, &mut stream).map_err(|finding| {
        finding.diagnosis("after a refusal the connection stays open for the next request")
    })
}

fn survives_bad_frames(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let bad: [(&str, Vec<u8>); 5] = [
        (
            "a header length of 4294967295",
            vec![0xFF, 0xFF, 0xFF, 0xFF],
        ),
        ("a header length of 0", vec![0, 0, 0, 0]),
        ("a header that is not JSON", raw_frame(b"{oops")),
        (
            "a header that is a JSON array",
            raw_frame(b"[\"hello\", 0]"),
        ),
        (
            "a body_size of 1048577",
            frame(&json!({"report": "echo", "body_size": 1_048_577}), b""),
        ),
    ];
    expect_broken_frames(session, addr, &bad, "")?;
    let cut = frame(&json!({"report": "echo", "body_size": 100}), b"only ten b");
    let mut stream = session.connect(addr)?;
    session.note("sending a frame cut short (10 of its 100 body bytes), then closing our side");
    let _ = stream.write_all(&cut);
    let _ = stream.shutdown(Shutdown::Write);
    let came = expect_closed(session, &mut stream, "a frame cut short")?;
    if !came.is_empty() && !starts_with_error_reply(&came) {
        return Err(Finding::new(
            "after a frame cut short: an error reply, or nothing, then the close",
            format!("{:?}", preview(&came)),
        )
        .diagnosis(
            "a body cut short by the end of the stream is a broken frame: never answer the part \
             that came",
        ));
    }
    served_after(session, addr, "a frame cut short")
}

fn wrong_types_are_broken(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let bad: Vec<(&str, Vec<u8>)> = [
        (
            "body_size as a string",
            r#"{"report":"hello","body_size":"0"}"#,
        ),
        ("body_size 0.0", r#"{"report":"hello","body_size":0.0}"#),
        ("body_size -1", r#"{"report":"hello","body_size":-1}"#),
        ("body_size true", r#"{"report":"hello","body_size":true}"#),
        ("no report", r#"{"body_size":0}"#),
        ("report as a number", r#"{"report":12,"body_size":0}"#),
        (
            "count as a string",
            r#"{"report":"numbers","count":"12","body_size":0}"#,
        ),
        (
            "count 12.0",
            r#"{"report":"numbers","count":12.0,"body_size":0}"#,
        ),
    ]
    .into_iter()
    .map(|(what, header)| (what, raw_frame(header.as_bytes())))
    .collect();
    expect_broken_frames(
        session,
        addr,
        &bad,
        "a field of the wrong type, or a missing required one, makes a broken frame \
         (Protocol: Broken frames): one error reply, then the server closes",
    )
}

/// A frame of exactly `header` (which need not be JSON) and no body.
fn raw_frame(header: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes
}

/// Sends each of `bad` on a connection of its own, all open at once, and
/// expects, on each, one error reply (`error`, `body_size` 0, `crc32` 0)
/// and then the end of the connection; and after that, a server that still
/// answers a new client. `rule` is added to the diagnosis of a reply that
/// is not an error.
fn expect_broken_frames(
    session: &Session,
    addr: SocketAddr,
    bad: &[(&str, Vec<u8>)],
    rule: &str,
) -> Result<(), Finding> {
    let mut streams = Vec::new();
    for (what, bytes) in bad {
        let mut stream = session.connect(addr)?;
        session.note(format!("sending {what}: {:?}", preview(bytes)));
        let _ = stream.write_all(bytes);
        streams.push(stream);
    }
    for ((what, _), mut stream) in bad.iter().zip(streams) {
        let (header, body) = read_frame(session, &mut stream).map_err(|finding| {
            finding.diagnosis(if rule.is_empty() {
                format!(
                    "after {what}, the server sent no error reply: a frame it cannot read gets \
                     one error reply before the close (does it check the header length, 1 to \
                     65536, before reading the header? does the thread die on a bad header?)"
                )
            } else {
                format!("after {what}, no error reply came: {rule}")
            })
        })?;
        expect_error_reply(&header, &body, &format!("after {what}: ")).map_err(|finding| {
            if rule.is_empty() {
                finding
            } else {
                finding.diagnosis(rule)
            }
        })?;
        expect_closed(session, &mut stream, what).map_err(|finding| {
            if rule.is_empty() {
                finding
            } else {
                finding.diagnosis(format!("{rule}; a refusal would keep the connection open"))
            }
        })?;
        served_after(session, addr, what)?;
    }
    Ok(())
}

/// Expects the server to end the connection (after at most a second of
/// discarding) rather than wait for more; returns what came before the end.
fn expect_closed(
    session: &Session,
    stream: &mut TcpStream,
    after: &str,
) -> Result<Vec<u8>, Finding> {
    let mut came = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        match stream.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => came.extend_from_slice(&piece[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(_) => {
                return Err(Finding::new(
                    format!("the server closes the connection after {after}"),
                    format!("it was still open {} s later", REPLY_TIMEOUT.as_secs()),
                )
                .diagnosis(
                    "after a broken frame the server cannot know where the next frame starts: \
                     it sends its error reply and closes",
                ));
            }
        }
    }
    session.note(format!("the server closed the connection after {after}"));
    Ok(came)
}

/// Whether a reply is an error reply: an `error` string, no body, crc32 0.
fn is_error_reply(header: &Value, body: &[u8]) -> bool {
    header.get("error").and_then(Value::as_str).is_some()
        && header["body_size"] == 0
        && header["crc32"] == 0
        && body.is_empty()
}

/// Expects a reply to be an error reply; `after` begins what was expected
/// (for example "after a header length of 0: ").
fn expect_error_reply(header: &Value, body: &[u8], after: &str) -> Result<(), Finding> {
    if is_error_reply(header, body) {
        return Ok(());
    }
    Err(Finding::new(
        format!("{after}an error reply, body_size 0 and crc32 0"),
        header.to_string(),
    ))
}

/// Whether `bytes` start with an error reply frame.
fn starts_with_error_reply(bytes: &[u8]) -> bool {
    let Some(prefix) = bytes.first_chunk::<4>() else {
        return false;
    };
    let end = 4 + u32::from_be_bytes(*prefix) as usize;
    bytes
        .get(4..end)
        .and_then(|json| serde_json::from_slice::<Value>(json).ok())
        .is_some_and(|header| is_error_reply(&header, b""))
}

/// Expects a new client to be served after `what` was sent to another.
fn served_after(session: &Session, addr: SocketAddr, what: &str) -> Result<(), Finding> {
    let mut next = session.connect(addr).map_err(|finding| {
        finding.diagnosis(format!(
            "after {what}, the server no longer accepts: did one bad frame stop it?"
        ))
    })?;
    expect_hello(session, &mut next)
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

fn client_goes_on_after_refusal(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(
        addr,
        &["no-such-report", "hello"],
        "",
        contract::CLIENT_TIMEOUT,
    )?;
    let starts = |report: &str| run.stdout.lines().any(|line| line.starts_with(report));
    if !starts("no-such-report:") || !starts("hello:") {
        return Err(Finding::new(
            "a line starting `no-such-report:`, then one starting `hello:`",
            format!("stdout {:?}", preview(run.stdout.as_bytes())),
        )
        .diagnosis("a refusal is an answer: print it on its line and go on with the next report"));
    }
    if !run.success {
        return Err(
            Finding::new("exit status 0", "a non-zero exit status").diagnosis(
                "the Protocol's exit status counts a refusal as a good answer: 0 when every reply \
             arrived intact",
            ),
        );
    }
    Ok(())
}

fn client_checks_crc(session: &mut Session) -> Result<(), Finding> {
    client_refuses_damaged(
        session,
        ("hello", HELLO),
        crc32fast::hash(HELLO) ^ 1,
        "compute the CRC-32 of the body and compare it with the header's crc32",
    )
}

fn client_checks_body(session: &mut Session) -> Result<(), Finding> {
    // Twelve bytes, but the last number is 6 where the numbers have 5.
    let wrong: &[u8] = b"0\n1\n2\n3\n4\n6\n";
    client_refuses_damaged(
        session,
        ("numbers 12", wrong),
        crc32fast::hash(wrong),
        "compare a numbers reply with the numbers 0, 1, 2, … cut to the count: a CRC-32 that \
         matches shows the body was not damaged on the way, not that it is the body asked for",
    )
}

/// Runs the client with the one REPORT `typed`, the grader playing the
/// server, which answers with `body` and the header's `crc32`: a damaged
/// reply, which the client must refuse with a non-zero exit status and one
/// `error:` line (`diagnosis` says what it missed if it exits 0).
fn client_refuses_damaged(
    session: &mut Session,
    (typed, body): (&str, &'static [u8]),
    crc32: u32,
    diagnosis: &str,
) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: it answers `{typed}` with {:?} and crc32 {crc32}",
        preview(body)
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
        conn.write_all(&frame(
            &json!({"body_size": body.len(), "crc32": crc32}),
            body,
        ))
        .map_err(|_| None)?;
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
        Ok(())
    });
    let run = session.run_client(addr, &[typed], "", CLIENT_TIMEOUT)?;
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
        .diagnosis(diagnosis));
    }
    contract::expect_one_error_line(&run.stderr)
}

/// The largest `numbers` reply the Protocol allows.
const LARGEST_NUMBERS: &str = "numbers 33554432";

fn client_largest_reply(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &[LARGEST_NUMBERS], "", Duration::from_secs(45))?;
    // The Protocol's refusal line would say the reply never came.
    let refused = format!("{LARGEST_NUMBERS}: refused by the server:");
    let printed = run.stdout.lines().any(|line| {
        line.starts_with(&format!("{LARGEST_NUMBERS}:")) && !line.starts_with(&refused)
    });
    if !run.success || !printed {
        return Err(Finding::new(
            format!("a line starting `{LARGEST_NUMBERS}:`, not a refusal, and exit status 0"),
            run.seen(),
        )
        .diagnosis(
            "a numbers reply may have up to 33554432 bytes of body: a client's cap on reply \
             bodies must let it through",
        ));
    }
    Ok(())
}

fn client_sends_reports(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}, answering each request as the Protocol says"
    ));
    let wait = session.patient(CLIENT_TIMEOUT);
    // The requests as they came: their headers and bodies.
    let server = thread::spawn(move || -> Vec<(Value, Vec<u8>)> {
        let mut asked = Vec::new();
        let Ok(mut conn) = accept_within(&listener, wait) else {
            return asked;
        };
        let _ = conn.set_read_timeout(Some(REPLY_TIMEOUT));
        let quiet = Session::detached();
        while let Ok((header, body)) = read_frame(&quiet, &mut conn) {
            let reply = match header["report"].as_str() {
                Some("numbers") => numbers(header["count"].as_u64().unwrap_or(0) as usize),
                Some("echo") => body.clone(),
                _ => HELLO.to_vec(),
            };
            let reply_header = json!({"body_size": reply.len(), "crc32": crc32fast::hash(&reply)});
            asked.push((header, body));
            if conn.write_all(&frame(&reply_header, &reply)).is_err() {
                break;
            }
        }
        asked
    });
    let run = session.run_client(addr, &["numbers 12", "echo two words"], "", CLIENT_TIMEOUT)?;
    let asked = server.join().unwrap_or_default();
    let wanted = [
        (
            json!({"report": "numbers", "count": 12, "body_size": 0}),
            &b""[..],
        ),
        (json!({"report": "echo", "body_size": 9}), &b"two words"[..]),
    ];
    for (i, (header, body)) in wanted.iter().enumerate() {
        let Some((sent, sent_body)) = asked.get(i) else {
            return Err(contract::never_asked("reply", &run.stderr));
        };
        let fields_match = header.as_object().is_some_and(|fields| {
            fields
                .iter()
                .all(|(name, value)| sent.get(name) == Some(value))
        });
        if !fields_match || sent_body != body {
            return Err(Finding::new(
                format!(
                    "request {}: {header} with the body {:?}",
                    i + 1,
                    preview(body)
                ),
                format!("{sent} with the body {:?}", preview(sent_body)),
            )
            .diagnosis(
                "`numbers N` is the report numbers with count N; `echo TEXT` is the report echo \
                 with TEXT as its body (see the table in the Protocol section)",
            ));
        }
    }
    if !run.success {
        return Err(Finding::new(
            "exit status 0: both replies were right",
            "a non-zero exit status",
        )
        .diagnosis("compare a numbers reply with the numbers 0, 1, 2, … cut to the count"));
    }
    Ok(())
}

/// How long a server may take to cut a request that stalls in its header:
/// the Protocol's 10 s, and room for a busy machine.
const SLOW_REQUEST_LIMIT: Duration = Duration::from_secs(15);

fn slow_request_is_cut(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let request = frame(&json!({"report": "hello", "body_size": 0}), b"");
    session.note(
        "sending a hello request's length prefix and 6 bytes of its header, then nothing, \
         the connection open",
    );
    session.send(&mut stream, &request[..10], "the start of the request")?;
    let _ = stream.set_read_timeout(Some(SLOW_REQUEST_LIMIT));
    let rule = "a request whose prefix and header have not all come 10 s after its first byte \
                is a slow request (Protocol: Slow requests): one error reply, then the close; \
                a read that times out is not retried";
    let (header, body) =
        read_frame(session, &mut stream).map_err(|finding| finding.diagnosis(rule))?;
    expect_error_reply(&header, &body, "").map_err(|finding| finding.diagnosis(rule))?;
    expect_closed(session, &mut stream, "a slow request").map(drop)
}

/// How long after its broken frame the grader keeps sending: well inside the
/// second the server discards for, so no send may meet a reset.
const KEEP_SENDING: Duration = Duration::from_millis(600);

/// How long after the error reply the grader waits, silent, before it checks
/// that the server has closed: its second of discarding, and room for a busy
/// machine.
const CLOSED_BY: Duration = Duration::from_secs(3);

fn lingers_after_error(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    session.note("sending a header length of 0, a broken frame");
    let sent = Instant::now();
    session.send(&mut stream, &[0, 0, 0, 0], "the broken frame")?;
    let (header, body) = read_frame(session, &mut stream)?;
    let replied = Instant::now();
    expect_error_reply(&header, &body, "")?;
    session.note(format!(
        "sending 4 bytes every 20 ms until {} s after the broken frame",
        KEEP_SENDING.as_secs_f64()
    ));
    let mut pieces = 0;
    while pieces < 2 || sent.elapsed() < KEEP_SENDING {
        if let Err(err) = stream.write_all(b"more") {
            return Err(Finding::new(
                "the bytes sent within a second of the broken frame are read and discarded",
                format!(
                    "after {pieces} piece(s), a send failed: {}",
                    write_failure(&err)
                ),
            )
            .diagnosis(
                "after the error reply, close the sending side, then read and discard what \
                 arrives for one second (or until the client closes) before closing: a socket \
                 closed with bytes still coming answers them with a reset, which can destroy \
                 the error reply",
            ));
        }
        pieces += 1;
        thread::sleep(Duration::from_millis(20));
    }
    session.note(format!(
        "now sending nothing, the connection open, until {} s after the error reply",
        CLOSED_BY.as_secs()
    ));
    thread::sleep(CLOSED_BY.saturating_sub(replied.elapsed()));
    // A byte sent to a closed socket is answered with a reset, which makes
    // the next send fail: the only sign, on a connection we keep open, that
    // the peer has closed. A server still reading would take the first byte
    // (and only then, perhaps, close), so the second send would go through.
    let probe = stream.write_all(b"?").and_then(|()| {
        thread::sleep(Duration::from_millis(100));
        stream.write_all(b"?")
    });
    if probe.is_ok() {
        return Err(Finding::new(
            format!(
                "the connection closed within {} s of the error reply",
                CLOSED_BY.as_secs()
            ),
            "it was still open: a byte sent then was read, not answered with a reset",
        )
        .diagnosis(
            "read and discard for one second at most (or until the client closes), then \
             close: a client that never closes must not hold the connection",
        ));
    }
    session.note("the server closed the connection");
    Ok(())
}

/// The largest request body the Protocol allows (for `echo`).
const LARGEST_ECHO: usize = 1_048_576;

fn largest_echo(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let body: Vec<u8> = (0..LARGEST_ECHO).map(|i| (i % 251) as u8).collect();
    expect_reply(
        session,
        &mut stream,
        &json!({"report": "echo", "body_size": LARGEST_ECHO}),
        &body,
        &body,
    )
    .map_err(|finding| {
        finding.diagnosis("a request body may have up to 1048576 bytes: refuse only above that")
    })
}

/// The longest header the Protocol allows.
const LARGEST_HEADER: usize = 65_536;

fn largest_header(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    // A hello request padded with a field the server ignores.
    let bare = json!({"report": "hello", "body_size": 0, "pad": ""}).to_string();
    let padded = json!({
        "report": "hello",
        "body_size": 0,
        "pad": "x".repeat(LARGEST_HEADER - bare.len()),
    })
    .to_string();
    session.note(format!(
        "request: hello, its header padded to {} bytes with an unknown field",
        padded.len()
    ));
    session.send(&mut stream, &raw_frame(padded.as_bytes()), "the request")?;
    let (header, body) = read_frame(session, &mut stream)?;
    if header.get("error").is_some() || body != HELLO {
        return Err(Finding::new(
            format!("the hello reply, {:?}", preview(HELLO)),
            format!("{header} and {:?}", preview(&body)),
        )
        .diagnosis("a header length may be anything from 1 to 65536: refuse only above 65536"));
    }
    Ok(())
}
