//! Lab 01 over real sockets: the real binaries, port 0, no sleeps.

use std::path::Path;
use std::time::Duration;

use labkit::{Server, client, contract, labs};

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
fn server_announces_its_real_address_on_port_0() {
    contract::server_announces_its_real_address(SERVER, &[]);
}

#[test]
fn second_server_on_a_busy_port_fails_with_a_hint() {
    contract::busy_port_is_one_clear_error(SERVER, &[]);
}

#[test]
fn client_without_a_server_fails_with_a_hint() {
    contract::client_without_server_is_one_clear_error(CLIENT, &["hi"], "connection refused");
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

/// `just lab 01` runs this demo: it shows both sides, finishes, and prints
/// what the book says it prints.
#[test]
fn the_demo_shows_both_sides_and_matches_the_book() {
    let bin_dir = Path::new(SERVER).parent().unwrap();
    let lab = labs::find("01").unwrap();
    let transcript = labkit::demo::capture(&lab, bin_dir).unwrap().join("\n");
    assert!(
        transcript.contains("client | HELLO, SOCKETS"),
        "{transcript}"
    );
    assert!(
        transcript.contains("server | received 14 bytes"),
        "{transcript}"
    );
    labkit::demo::check_transcript(&lab, bin_dir).unwrap();
}

/// The graded rubric (`just grade 01`) gives our own programs full marks.
#[test]
fn the_reference_scores_full_marks_on_the_graded_rubric() {
    labkit::grade::assert_reference_scores_full_marks("01", Path::new(SERVER).parent().unwrap());
}
