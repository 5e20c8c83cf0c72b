//! Peers that take their time or lie, on both sides of lab 05.
//!
//! A server must not let a client hold a thread by sending a byte now and
//! then, nor spend 32 MiB on every client that asks for a big report and
//! never reads it. A client must not wait forever on a trickling reply, nor
//! print what a server says as if it were its own output.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lab05_framed_header::frame;
use lab05_framed_header::protocol::{MAX_NUMBERS, Reply, Request};
use labkit::peer::{self, FakeServer};
use labkit::{Server, client};

const SERVER: &str = env!("CARGO_BIN_EXE_lab05-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab05-client");

/// A raw connection from the test itself; a missing reply fails the test
/// after 20 s instead of hanging it.
fn connect(server: &Server) -> TcpStream {
    let stream =
        TcpStream::connect(server.addr()).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout can be set");
    stream
}

/// A request frame for `hello` whose header is padded to over 200 bytes
/// with a field the server ignores: at 10 bytes a second, 20 s of header.
fn long_hello_frame() -> Vec<u8> {
    let header = format!(
        r#"{{"report":"hello","body_size":0,"padding":"{}"}}"#,
        "x".repeat(200)
    );
    let mut wire = (header.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(header.as_bytes());
    wire
}

/// Sends `wire` a byte every `gap` until the server cuts the connection;
/// returns the error reply it sent and how long it took to get it.
fn dribble_until_cut(
    stream: &mut TcpStream,
    wire: &[u8],
    gap: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut reader = stream.try_clone().expect("a second handle");
    let writer = std::thread::spawn({
        let mut stream = stream.try_clone().expect("a second handle");
        let wire = wire.to_vec();
        move || peer::dribble(&mut stream, &wire, gap, Duration::ZERO)
    });
    let reply = frame::read_frame::<Reply>(&mut reader, 1024)
        .expect("an error reply frame arrives")
        .expect("the server replies before closing")
        .0;
    let took = started.elapsed();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    (reply.error.expect("an error reply"), took)
}

/// A header sent a byte every 100 ms is cut at --request-timeout, with one
/// error reply, and the server goes on serving.
#[test]
fn a_dribbled_header_is_cut_at_the_request_timeout() {
    let server = Server::start(SERVER, ["--request-timeout", "1"]).unwrap();
    let mut slow = connect(&server);
    let (error, took) =
        dribble_until_cut(&mut slow, &long_hello_frame(), Duration::from_millis(100));
    // The whole header takes 20 s at this pace; 8 s leaves room for a busy machine.
    assert!(took < Duration::from_secs(8), "cut after {took:?}");
    assert!(
        error.contains("too slowly: it did not arrive whole within 1 s"),
        "{error}"
    );
    assert!(server.wait_for_stderr("came too slowly", Duration::from_secs(5)));
    client(CLIENT, &server).arg("hello").assert().success();
}

/// The same with the defaults: a header dribbled at 10 bytes a second (a
/// 64 KiB one would take 109 minutes) is cut within 15 s.
#[test]
fn with_the_defaults_a_dribbled_header_is_cut_within_15_seconds() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let mut slow = connect(&server);
    let (error, took) =
        dribble_until_cut(&mut slow, &long_hello_frame(), Duration::from_millis(100));
    assert!(took < Duration::from_secs(15), "cut after {took:?}");
    assert!(error.contains("within 10 s"), "{error}");
}

/// A request body (here an `echo` of 1 MiB) sent at 1 KB/s is cut once its
/// grace period is over, because it is far below --min-rate.
#[test]
fn a_body_below_the_minimum_rate_is_cut() {
    let server =
        Server::start(SERVER, ["--request-timeout", "1", "--min-rate", "16384"]).unwrap();
    let mut slow = connect(&server);
    let echo = Request {
        report: "echo".into(),
        count: None,
        body_size: 1 << 20,
    };
    frame::write_header(&mut slow, &echo).unwrap();
    // 100 bytes every 100 ms: 1 KB/s.
    let started = Instant::now();
    let mut reader = slow.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        while slow.write_all(&[b'x'; 100]).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let reply = frame::read_frame::<Reply>(&mut reader, 1024)
        .unwrap()
        .expect("an error reply")
        .0;
    let took = started.elapsed();
    // The whole body takes 1000 s at this pace.
    assert!(took < Duration::from_secs(10), "cut after {took:?}");
    let error = reply.error.expect("an error reply");
    assert!(error.contains("slower than 16384 bytes/s"), "{error}");
    let _ = reader.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
}

/// The server's peak memory (VmHWM) in bytes.
fn peak_memory(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("the server's /proc status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// 16 clients ask for the largest `numbers` report and never read past its
/// header: the server streams each reply, so its peak memory stays under
/// 64 MiB (building them whole would take 16 x 32 MiB).
#[test]
fn sixteen_clients_that_never_read_a_32_mib_reply_cost_little_memory() {
    let server = Server::start(SERVER, ["--quiet"]).unwrap();
    let numbers = Request {
        report: "numbers".into(),
        count: Some(MAX_NUMBERS),
        body_size: 0,
    };
    let clients: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut stream = connect(&server);
            frame::write_frame(&mut stream, &numbers, b"").unwrap();
            stream
        })
        .collect();
    for mut stream in &clients {
        // Each header follows a first pass over 32 MiB for its CRC-32: a few
        // seconds on an idle machine, far longer on a busy one.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let reply: Reply = frame::read_header(&mut stream).unwrap().unwrap();
        assert_eq!(reply.body_size, MAX_NUMBERS);
    }
    let peak = peak_memory(&server);
    assert!(peak < 64 << 20, "peak memory {} MiB", peak >> 20);
}

/// A reply whose body trickles in is cut: the client's --timeout bounds
/// the whole reply (and a large one must keep up a minimum rate after it).
#[test]
fn client_cuts_a_reply_that_trickles_in() {
    let server = FakeServer::start(|mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        let mut wire = Vec::new();
        // A header that announces 1000 bytes: 100 s of body at this pace.
        frame::write_header(&mut wire, &Reply::streamed(1000, 0)).unwrap();
        wire.extend_from_slice(&[b'x'; 1000]);
        peer::dribble(
            &mut connection,
            &wire,
            Duration::from_millis(100),
            Duration::from_secs(30),
        );
    });
    // The trickle would hold it 100 s.
    let stderr = peer::assert_gives_up_within(
        server.client(CLIENT).args(["--timeout", "1", "hello"]),
        Duration::from_secs(8),
    );
    assert!(stderr.contains("came too slowly"), "{stderr}");
}

/// A reply that takes longer than --timeout is not cut for being big: past
/// its grace period it only has to keep up the minimum rate (16 KiB/s).
#[test]
fn client_takes_a_big_reply_slower_than_its_timeout_but_above_the_minimum_rate() {
    let body: Vec<u8> = (0..=255u8).cycle().take(120 * 1024).collect();
    let server = FakeServer::start(move |mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        if frame::write_header(&mut connection, &Reply::ok(&body)).is_err() {
            return;
        }
        // 6 KiB every 100 ms, about 60 KiB/s: 2 s for the body, twice the
        // client's --timeout, and still well above 16 KiB/s on a busy machine.
        for piece in body.chunks(6 * 1024) {
            if connection.write_all(piece).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let output = server
        .client(CLIENT)
        .args(["--timeout", "1", "hello"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the reply outlasted --timeout"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("hello: 122880 bytes, crc32 "),
        "{stdout}"
    );
}

/// A refusal whose reason forges lines and drives the terminal is printed
/// on its one line, escapes visible.
#[test]
fn client_prints_a_forged_refusal_on_one_line() {
    let server = FakeServer::start(|mut connection| {
        while let Ok(Some(_)) = frame::read_header::<Request>(&mut connection) {
            if frame::write_frame(&mut connection, &Reply::error(peer::FORGED), b"")
                .is_err()
            {
                return;
            }
        }
    });
    let output = server
        .client(CLIENT)
        .args(["hello", "time"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    peer::assert_printed_safely(&stdout, 2);
    assert!(
        stdout.starts_with("hello: refused by the server: fine\\nhello: 28 bytes"),
        "{stdout}"
    );
}

/// The server's log quotes what a client asked for, refusals included: a
/// report name holding a newline, a fake log line and an escape code stays
/// on its one log line, escapes visible.
#[test]
fn a_forged_report_name_stays_on_one_line_of_the_servers_log() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let mut stream = connect(&server);
    let forged = Request {
        report: "x\n127.0.0.1:1: forged\x1b[31m".into(),
        count: None,
        body_size: 0,
    };
    frame::write_frame(&mut stream, &forged, b"").unwrap();
    let (reply, _) = frame::read_frame::<Reply>(&mut stream, 1024)
        .unwrap()
        .expect("a refusal");
    assert!(reply.error.is_some());
    assert!(server.wait_for_stderr("refused", Duration::from_secs(5)));
    let log = server.stderr();
    assert!(!log.iter().any(|line| line.contains('\x1b')), "{log:#?}");
    let forged_lines = log.iter().filter(|line| line.contains("forged")).count();
    assert_eq!(forged_lines, 1, "{log:#?}");
}
