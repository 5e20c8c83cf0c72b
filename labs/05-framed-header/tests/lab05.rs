//! Lab 05 over real sockets: the real binaries, port 0, no sleeps.
//!
//! The test's own raw connections speak the protocol through the lab's
//! `frame` module, or send hand-made bytes when a test needs a broken frame.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use lab05_framed_header::frame;
use lab05_framed_header::protocol::{Reply, Request, crc32, numbers};
use lab05_framed_header::reports::{CATALOGUE, HELLO};
use labkit::{Server, client, contract, reset};

const SERVER: &str = env!("CARGO_BIN_EXE_lab05-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab05-client");
const BYTE_ORDER: &str = env!("CARGO_BIN_EXE_lab05-byte-order");
const CONCAT: &str = env!("CARGO_BIN_EXE_lab05-concat");

/// A raw connection from the test itself, with a read timeout so a missing
/// reply fails the test instead of hanging it.
fn connect(server: &Server) -> TcpStream {
    let stream =
        TcpStream::connect(server.addr()).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout can be set");
    stream
}

/// A request header for `report`.
fn request(report: &str, count: Option<u64>, body: &[u8]) -> Request {
    Request {
        report: report.to_string(),
        count,
        body_size: body.len() as u64,
    }
}

/// Sends one request frame and reads one reply frame.
fn ask(
    stream: &mut TcpStream,
    report: &str,
    count: Option<u64>,
    body: &[u8],
) -> (Reply, Vec<u8>) {
    frame::write_frame(stream, &request(report, count, body), body)
        .expect("the request is sent");
    frame::read_frame(stream, 64 << 20)
        .expect("a whole reply frame arrives")
        .expect("the server answers before closing")
}

/// A frame with a hand-written header, as a peer that is not our code might send.
fn raw_frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut wire = (header.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(header);
    wire.extend_from_slice(body);
    wire
}

/// Reads the error reply the server sends for a bad frame, then checks that
/// the server closed the connection cleanly after it; returns the reason.
fn error_reply_then_close(stream: &mut TcpStream) -> String {
    let (reply, body) = frame::read_frame::<Reply>(stream, 1024)
        .expect("an error reply frame arrives")
        .expect("the server replies before closing");
    assert!(body.is_empty());
    assert!(
        frame::read_frame::<Reply>(stream, 1024)
            .expect("then a clean end")
            .is_none(),
        "the server closes after a bad frame"
    );
    reply.error.expect("the reply is an error reply")
}

/// The line the client prints for a `numbers` reply it verified.
fn numbers_line(count: u64) -> String {
    format!(
        "numbers {count}: {count} bytes, crc32 {:08x} ok, same as the numbers generated here",
        crc32(&numbers(count))
    )
}

/// Replies from 0 bytes to 8 MiB, far more than any single read returns,
/// all on one connection, each checked by the client.
#[test]
fn client_verifies_replies_from_empty_to_eight_mebibytes_on_one_connection() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let eight_mib = 8 * 1024 * 1024;
    let echoed = "bytes \u{e9}t\u{e9} with no end marker";
    client(CLIENT, &server)
        .args([
            "hello",
            "empty",
            &format!("numbers {eight_mib}"),
            &format!("echo {echoed}"),
            "numbers 1",
        ])
        .assert()
        .success()
        .stdout(format!(
            "hello: 28 bytes, crc32 {:08x} ok: \"{HELLO}\"\n\
             empty: 0 bytes, crc32 00000000 ok\n\
             {}\n\
             echo {echoed}: {} bytes, crc32 {:08x} ok, same as sent: \"{echoed}\"\n\
             {}: \"0\"\n",
            crc32(HELLO.as_bytes()),
            numbers_line(eight_mib),
            echoed.len(),
            crc32(echoed.as_bytes()),
            numbers_line(1),
        ));
    let log = server.stop().join("\n");
    assert!(
        log.contains(r#"asked for "numbers 8388608", sent 8388608 bytes"#),
        "{log}"
    );
    assert!(
        log.contains("closed the connection after 5 request(s)"),
        "{log}"
    );
}

/// Without arguments the client asks for each line of stdin, skipping empty ones.
#[test]
fn client_asks_for_stdin_lines_and_skips_empty_ones() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .write_stdin("empty\n\nnumbers 3\n")
        .assert()
        .success()
        .stdout(format!(
            "empty: 0 bytes, crc32 00000000 ok\n{}\n",
            numbers_line(3)
        ));
}

/// A request shaped like a shell command is only a name: refused with the
/// list of reports, and nothing runs (the file it would create never appears).
#[test]
fn a_shell_command_is_refused_by_name_and_never_run() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let witness =
        std::env::temp_dir().join(format!("lab05-never-run-{}", std::process::id()));
    let command = format!("touch {}", witness.display());
    client(CLIENT, &server)
        .args([command.as_str(), "hello"])
        .assert()
        .success()
        .stdout(format!(
            "{command}: refused by the server: there is no report named '{command}'; \
             the reports are: {CATALOGUE}\n\
             hello: 28 bytes, crc32 {:08x} ok: \"{HELLO}\"\n",
            crc32(HELLO.as_bytes())
        ));
    assert!(!witness.exists(), "the server ran a command it received");
}

/// A refused request is a normal reply: the connection stays open and the
/// next request on it is answered.
#[test]
fn a_refused_request_keeps_the_connection_open() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let mut stream = connect(&server);
    let (reply, body) = ask(&mut stream, "numbers", Some(u64::MAX), b"");
    assert_eq!(
        reply.error.as_deref(),
        Some("numbers 18446744073709551615 is too many: the most is 33554432")
    );
    assert!(body.is_empty());
    let (reply, body) = ask(&mut stream, "hello", None, b"not for hello");
    assert_eq!(
        reply.error.as_deref(),
        Some("the report 'hello' takes no request body")
    );
    assert!(body.is_empty());
    let (reply, body) = ask(&mut stream, "echo", None, &[0, 1, 255]);
    assert_eq!((reply.error, body.as_slice()), (None, &[0, 1, 255][..]));
}

/// Every kind of bad frame gets one error reply naming the problem, then the
/// connection is closed; the server logs it and goes on serving.
#[test]
fn bad_frames_get_an_error_reply_and_the_server_keeps_serving() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            vec![0xFF, 0xFF, 0xFF, 0xFF],
            "the frame announces a header of 4294967295 bytes, more than the 65536 bytes allowed",
        ),
        (
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            "the frame announces a header of 1195725856 bytes",
        ),
        (
            vec![0, 0, 0, 0],
            "the frame's header is not valid: expected a JSON object starting with '{', got \"\"",
        ),
        (
            raw_frame(b"not json", b""),
            "expected a JSON object starting with '{', got \"not json\"",
        ),
        (
            raw_frame(br#"{"report": hello, "body_size": 0}"#, b""),
            "the frame's header is not valid: expected value at line 1 column 12",
        ),
        (
            raw_frame(b"[\"hello\", null, 0]", b""),
            "expected a JSON object starting with '{'",
        ),
        (
            raw_frame(br#"{"report":"hello"}"#, b""),
            "the frame's header is not valid: missing field `body_size`",
        ),
        (
            raw_frame(b"{\"report\":\"\xff\",\"body_size\":0}", b""),
            "the frame's header is not valid: invalid unicode code point",
        ),
        (
            raw_frame(br#"{"report":"echo","body_size":2000000}"#, b"abc"),
            "the frame announces a body of 2000000 bytes, more than the 1048576 bytes accepted",
        ),
    ];
    for (wire, expected) in &cases {
        let mut stream = connect(&server);
        stream.write_all(wire).unwrap();
        let reason = error_reply_then_close(&mut stream);
        assert!(reason.contains(expected), "sent {wire:?}, got {reason:?}");
    }
    client(CLIENT, &server).arg("empty").assert().success();
    // The server logs each bad frame once it has closed that connection,
    // which can be after our client is done: wait for the lines, not a time.
    let logged_bad_frames = |log: &[String]| {
        log.iter()
            .filter(|line| {
                line.contains(": bad frame: ")
                    && line.ends_with("sent an error reply and closed the connection")
            })
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while logged_bad_frames(&server.stderr()) < cases.len()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = server.stop();
    assert_eq!(logged_bad_frames(&log), cases.len(), "{log:#?}");
}

/// An end of stream inside a frame is told apart from a clean end between
/// frames: the peer that half-closes mid-frame still hears what was missing.
#[test]
fn an_end_inside_a_frame_is_truncated_and_an_end_between_frames_is_clean() {
    let server = Server::start(SERVER, [""; 0]).unwrap();

    let mut cut_prefix = connect(&server);
    cut_prefix.write_all(&[0, 0]).unwrap();
    cut_prefix.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        error_reply_then_close(&mut cut_prefix),
        "the connection ended in the middle of a frame: the length prefix should have 4 bytes \
         but only 2 arrived"
    );

    let mut cut_body = connect(&server);
    let header = br#"{"report":"echo","body_size":10}"#;
    cut_body.write_all(&raw_frame(header, b"012")).unwrap();
    cut_body.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        error_reply_then_close(&mut cut_body),
        "the connection ended in the middle of a frame: the body should have 10 bytes but only \
         3 arrived"
    );

    let mut clean = connect(&server);
    let (reply, _) = ask(&mut clean, "empty", None, b"");
    assert_eq!(reply.error, None);
    clean.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    clean.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "no error reply after a clean end");
    assert!(server.wait_for_stderr(
        "closed the connection after 1 request(s)",
        Duration::from_secs(5)
    ));
}

/// One client's bad frame does not disturb another client whose 8 MiB reply
/// is in the middle of being sent at that very moment.
#[test]
fn a_bad_frame_from_one_client_does_not_disturb_another_being_served() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let size: u64 = 8 * 1024 * 1024;
    let mut busy = connect(&server);
    frame::write_frame(&mut busy, &request("numbers", Some(size), b""), b"").unwrap();
    let header: Reply = frame::read_header(&mut busy).unwrap().unwrap();
    assert_eq!(header.body_size, size);
    let mut first_part = vec![0; 1024 * 1024];
    busy.read_exact(&mut first_part).unwrap();
    // The server is now blocked sending the rest to `busy`, which is not
    // reading. Meanwhile another client sends garbage.
    let mut rogue = connect(&server);
    rogue
        .write_all(b"{\"json\": \"but no length prefix\"}")
        .unwrap();
    let reason = error_reply_then_close(&mut rogue);
    assert!(
        reason.contains("announces a header of 2065853043 bytes"),
        "{reason}"
    );

    let rest = frame::read_body(&mut busy, size - first_part.len() as u64, size).unwrap();
    first_part.extend_from_slice(&rest);
    assert_eq!(crc32(&first_part), header.crc32);
    assert!(
        first_part == numbers(size),
        "the 8 MiB reply arrived intact"
    );
    let (reply, body) = ask(&mut busy, "hello", None, b"");
    assert_eq!((reply.error, body.as_slice()), (None, HELLO.as_bytes()));
}

/// A client that stops in the middle of a frame is disconnected after
/// --idle-timeout, without a reply (it is not listening anyway).
#[test]
fn a_client_stalled_mid_frame_is_disconnected_after_the_idle_timeout() {
    let server = Server::start(SERVER, ["--idle-timeout", "0.3"]).unwrap();
    let mut stalled = connect(&server);
    stalled
        .write_all(&raw_frame(br#"{"report":"echo","body_size":5}"#, b"ab"))
        .unwrap();
    let mut rest = Vec::new();
    stalled.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "no reply, just the close");
    assert!(server.wait_for_stderr(
        "idle for 0.3 s, closing the connection",
        Duration::from_secs(5)
    ));
}

/// A client that resets mid-conversation is logged, and the next is served.
#[test]
fn a_reset_is_logged_and_the_next_client_is_served() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let mut rude = connect(&server);
    ask(&mut rude, "hello", None, b"");
    reset(rude);
    assert!(server.wait_for_stderr("reset the connection", Duration::from_secs(5)));
    client(CLIENT, &server).arg("empty").assert().success();
}

/// A "server" that answers in another protocol is caught by the header cap:
/// the client refuses a 1.2 GB header instead of trying to read it.
#[test]
fn client_refuses_a_reply_that_is_not_a_lab05_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let web_server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0; 64];
        let _ = stream.read(&mut request).unwrap();
        stream.write_all(b"HTTP/1.1 200 OK\r\n\r\nhello").unwrap();
    });
    let output = assert_cmd::Command::new(CLIENT)
        .args(["--port", &port, "hello"])
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    web_server.join().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.contains("announces a header of 1213486160 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is the server a lab 05 server?"),
        "{stderr}"
    );
}

/// The client gives up on a reply that does not come, with a clear error.
#[test]
fn client_times_out_when_no_reply_comes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = assert_cmd::Command::new(CLIENT)
        .args(["--port", &port, "--timeout", "0.3", "hello"])
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    drop(listener);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.contains("nothing of it came within 0.3 s"),
        "{stderr}"
    );
}

/// A request the client cannot build is refused before connecting.
#[test]
fn client_refuses_numbers_without_a_count_before_connecting() {
    let unused = contract::UnusedPort::new();
    let port = unused.port().to_string();
    let output = assert_cmd::Command::new(CLIENT)
        .args(["--port", &port, "numbers many"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.contains("'numbers many' has no count of bytes"),
        "{stderr}"
    );
}

/// `lab05-byte-order` shows the native-order length misread by a machine of
/// the other order, and our reader refusing it.
#[test]
fn byte_order_tool_shows_the_misread_length_and_our_refusal() {
    if !cfg!(target_endian = "little") {
        return;
    }
    assert_cmd::Command::new(BYTE_ORDER)
        .assert()
        .success()
        .stdout(
            "the reply header for hello is 35 bytes of JSON; the 4 bytes announcing that:\n\
             \x20 this machine's order (little-endian), to_ne_bytes, struct.pack('i'):  23 00 00 00\n\
             \x20 network order (big-endian), to_be_bytes, struct.pack('!I'):        00 00 00 23\n\
             a machine of the other byte order reads 23 00 00 00 as 587202560 bytes (560 MiB)\n\
             our reader, handed 23 00 00 00 and the header: refused: the frame announces a header \
             of 587202560 bytes, more than the 65536 bytes allowed (is the peer speaking this \
             protocol?)\n",
        );
}

/// `lab05-concat` counts the bytes each way copies: 4 times more for `+=`
/// each time the reply doubles, twice more for a growing Vec.
#[test]
fn concat_tool_shows_quadratic_copying_against_linear() {
    let output = assert_cmd::Command::new(CONCAT)
        .args(["--up-to", "262144"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let copied: Vec<(String, String)> = stdout
        .lines()
        .skip(3)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let first_word =
                |cell: &str| cell.split_whitespace().next().unwrap().to_string();
            (first_word(cells[1]), first_word(cells[2]))
        })
        .collect();
    let expected = [("2.0", "0.1"), ("8.1", "0.2"), ("32.1", "0.5")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(copied, expected, "{stdout}");
}

labkit::every_lab_tests! {
    lab: "05",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["hello"] => "connection refused",
    server_folder: None,
}
