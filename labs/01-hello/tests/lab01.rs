//! Lab 01 over real sockets: the real binaries, port 0, no sleeps.

use std::io::Read;
use std::time::Duration;

use labkit::peer::{self, FakeServer};
use labkit::{Server, client, contract};

const SERVER: &str = env!("CARGO_BIN_EXE_lab01-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab01-client");

/// The happy path: the message comes back in capitals.
#[test]
fn client_prints_its_message_in_capitals() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .arg("hello, sockets")
        .assert()
        .success()
        .stdout("HELLO, SOCKETS\n");
}

/// Bytes, not text: only ASCII letters change, and UTF-8 stays intact.
#[test]
fn non_ascii_text_comes_back_unchanged_except_ascii_letters() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .arg("héllo wörld ✓")
        .assert()
        .success()
        .stdout("HéLLO WöRLD ✓\n");
}

/// The naive server answers one client and exits; lab 02 fixes that.
#[test]
fn server_exits_after_its_one_client() {
    let mut server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server).arg("bye").assert().success();
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits after one client");
    assert!(status.success());
    let log = server.stop().join("\n");
    assert!(log.contains("received 3 bytes"), "{log}");
}

/// A server that never closes, or that trickles its reply a byte at a time,
/// cannot hold the client: `--timeout` bounds the whole reply, not one read.
#[test]
fn a_reply_that_trickles_in_and_never_ends_is_cut_at_the_timeout() {
    // Each byte comes well within any sensible per-read timeout.
    let server =
        FakeServer::start(peer::trickle(b"HELLO, SOCKETS", Duration::from_millis(300)));
    // Held by the trickle, it would wait 34 s; 10 s leaves room for a busy machine.
    peer::assert_cut_at_a_1_s_deadline(
        server
            .client(CLIENT)
            .args(["--timeout", "1", "hello, sockets"]),
        Duration::from_secs(10),
    );
}

/// What the server sends is shown, never obeyed: a forged line or a terminal
/// escape in the reply stays visible, on the reply's one line.
#[test]
fn a_forged_reply_is_printed_on_one_line_without_escapes() {
    let server = FakeServer::start(|mut connection| {
        let _ = connection.read(&mut [0u8; 1024]);
        let _ = std::io::Write::write_all(&mut connection, peer::FORGED.as_bytes());
    });
    let output = server.client(CLIENT).arg("hi").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    peer::assert_printed_safely(&stdout, 1);
    assert!(stdout.starts_with("fine\\nhello: 28 bytes"), "{stdout}");
}

#[test]
fn a_bad_host_is_one_clear_error() {
    let output = assert_cmd::Command::new(CLIENT)
        .args(["--host", "no such host", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(stderr.contains("bad address 'no such host'"), "{stderr}");
}

labkit::every_lab_tests! {
    lab: "01",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["hi"] => "connection refused",
    server_folder: None,
}
