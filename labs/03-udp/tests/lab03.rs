//! Lab 03 over real UDP sockets: the real binaries, port 0, no sleeps.

use std::net::UdpSocket;
use std::time::Duration;

use labkit::{Server, client, contract, peer};

const SERVER: &str = env!("CARGO_BIN_EXE_lab03-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab03-client");

/// A socket of the test's own, bound to any free port, that gives up after 10 s.
fn test_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a free UDP port");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a receive timeout can be set");
    socket
}

/// A reply that forges lines or drives the terminal is shown on its one
/// line, escapes visible: the server chose those bytes.
#[test]
fn a_forged_reply_is_printed_on_one_line_without_escapes() {
    let fake = test_socket();
    let port = fake.local_addr().unwrap().port().to_string();
    let replier = std::thread::spawn(move || {
        let mut datagram = [0u8; 1024];
        if let Ok((_, client)) = fake.recv_from(&mut datagram) {
            let _ = fake.send_to(peer::FORGED.as_bytes(), client);
        }
    });
    let output = assert_cmd::Command::new(CLIENT)
        .args(["--port", &port, "hello"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    replier.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    peer::assert_printed_safely(&String::from_utf8_lossy(&output.stdout), 1);
}

/// Each message goes out as one datagram and comes back in capitals.
#[test]
fn client_gets_each_message_back_in_capitals() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .args(["hello", "udp world"])
        .assert()
        .success()
        .stdout("HELLO\nUDP WORLD\n");
}

/// An empty datagram is a real datagram: it arrives, and is answered.
#[test]
fn an_empty_line_travels_as_an_empty_datagram_and_is_answered() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .write_stdin("a\n\nb\n")
        .assert()
        .success()
        .stdout("A\n\nB\n");
    let log = server.stop().join("\n");
    assert!(log.contains("0 bytes: \"\""), "{log}");
}

/// Boundaries are kept: five datagrams sent back to back arrive as five,
/// never glued together (the TCP problem of lab 04 cannot happen here).
#[test]
fn datagrams_sent_back_to_back_arrive_one_by_one() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let socket = test_socket();
    let messages = ["a", "bb", "ccc", "dddd", "eeeee"];
    for message in messages {
        socket.send_to(message.as_bytes(), server.addr()).unwrap();
    }
    let mut buffer = [0; 64];
    for message in messages {
        let (n, from) = socket.recv_from(&mut buffer).unwrap();
        assert_eq!(from, server.addr());
        assert_eq!(&buffer[..n], message.to_uppercase().as_bytes());
    }
}

/// A lost datagram is sent again after the timeout, and the answer still comes.
#[test]
fn client_sends_again_when_a_datagram_is_lost() {
    let server = Server::start(SERVER, ["--drop-every", "2"]).unwrap();
    let output = client(CLIENT, &server)
        .args(["--timeout", "0.2", "first", "second"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "FIRST\nSECOND\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no reply within 0.2 s; sending again (try 2 of 4)"),
        "{stderr}"
    );
    let log = server.stop().join("\n");
    assert!(log.contains("dropping datagram #2"), "{log}");
}

/// A buffer smaller than the datagram keeps the start and loses the rest.
#[test]
fn a_datagram_longer_than_the_buffer_is_cut_and_the_client_says_so() {
    let server = Server::start(SERVER, ["--buffer-size", "8"]).unwrap();
    let output = client(CLIENT, &server)
        .arg("0123456789abcdef")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "01234567\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the reply has 8 of 16 bytes"), "{stderr}");
    let log = server.stop().join("\n");
    assert!(
        log.contains("longer than the 8-byte buffer: kept 8 bytes"),
        "{log}"
    );
}

/// The largest IPv4 datagram (65,507 bytes) goes through whole; one byte more
/// is refused with a clear error before anything is sent.
#[test]
fn the_largest_datagram_goes_through_and_a_larger_one_is_refused() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let socket = test_socket();
    let largest: Vec<u8> = (0..65_507).map(|i| b'a' + (i % 26) as u8).collect();
    socket.send_to(&largest, server.addr()).unwrap();
    let mut buffer = vec![0; 70_000];
    let (n, _) = socket.recv_from(&mut buffer).unwrap();
    assert_eq!(&buffer[..n], largest.to_ascii_uppercase().as_slice());

    let too_long = "x".repeat(65_508);
    let output = client(CLIENT, &server).arg(&too_long).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.contains(
            "65508 bytes does not fit in one UDP datagram (at most 65507 bytes)"
        ),
        "{stderr}"
    );
}

labkit::every_lab_tests! {
    lab: "03",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["--timeout", "0.1", "--retries", "2", "anyone?"] => "no reply from 127.0.0.1",
    server_folder: None,
}
