//! Lab 01 over real sockets: the real binaries, port 0, no sleeps.

use std::time::Duration;

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
