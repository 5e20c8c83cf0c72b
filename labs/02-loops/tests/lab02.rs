//! Lab 02 over real sockets: the real binaries, port 0, no sleeps.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use labkit::peer::{self, FakeServer};
use labkit::{Server, client, contract, reset};

const SERVER: &str = env!("CARGO_BIN_EXE_lab02-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab02-client");

/// Sends `message` on a raw stream and reads its reply, as a test's own client.
fn ask(stream: &mut TcpStream, message: &str) -> String {
    stream
        .write_all(message.as_bytes())
        .expect("the message is sent");
    let mut reply = vec![0; message.len()];
    stream
        .read_exact(&mut reply)
        .expect("a whole reply arrives");
    String::from_utf8(reply).expect("the reply is UTF-8")
}

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

/// Several messages on one connection, each answered in order.
#[test]
fn client_gets_a_reply_to_each_message_on_one_connection() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .args(["first message", "second message"])
        .assert()
        .success()
        .stdout("FIRST MESSAGE\nSECOND MESSAGE\n");
    let log = server.stop().join("\n");
    assert!(
        log.contains("closed the connection after 2 message(s)"),
        "{log}"
    );
}

/// Without arguments the client sends stdin's lines, skipping empty ones.
#[test]
fn client_sends_stdin_lines_and_skips_empty_ones() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    client(CLIENT, &server)
        .write_stdin("one\n\ntwo words\n")
        .assert()
        .success()
        .stdout("ONE\nTWO WORDS\n");
}

/// The connection loop: a client that closes, then one that resets, and the
/// one-by-one server still serves the next client.
#[test]
fn sequential_server_survives_a_close_and_a_reset_and_serves_the_next_client() {
    let server = Server::start(SERVER, ["--sequential"]).unwrap();

    let mut polite = connect(&server);
    assert_eq!(ask(&mut polite, "bye"), "BYE");
    drop(polite);

    let mut rude = connect(&server);
    assert_eq!(ask(&mut rude, "crash"), "CRASH");
    reset(rude);

    client(CLIENT, &server)
        .arg("still there?")
        .assert()
        .success()
        .stdout("STILL THERE?\n");
    let log = server.stop().join("\n");
    assert!(
        log.contains("closed the connection after 1 message(s)"),
        "{log}"
    );
    assert!(log.contains("reset the connection"), "{log}");
}

/// The threaded server keeps 24 clients open at once, and each one gets its
/// own replies, never another client's.
#[test]
fn threaded_server_serves_24_clients_at_once_each_with_its_own_replies() {
    let server = Server::start(SERVER, ["--quiet"]).unwrap();
    let mut streams: Vec<TcpStream> = (0..24).map(|_| connect(&server)).collect();
    // Every client is connected before any is done: a one-by-one server
    // would leave all but the first without replies (and this test would time out).
    for round in 0..3 {
        for (i, stream) in streams.iter_mut().enumerate() {
            let message = format!("client {i} says hello, round {round}");
            assert_eq!(ask(stream, &message), message.to_uppercase());
        }
    }
    // And as separate processes, started together.
    let children: Vec<_> = (0..20)
        .map(|i| {
            std::process::Command::new(CLIENT)
                .args([
                    "--port",
                    &server.port(),
                    &format!("process {i}"),
                    &format!("again {i}"),
                ])
                .output()
        })
        .collect();
    for (i, output) in children.into_iter().enumerate() {
        let output = output.unwrap();
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("PROCESS {i}\nAGAIN {i}\n")
        );
    }
}

/// One client at a time: the second waits until the first leaves.
#[test]
fn sequential_server_makes_the_second_client_wait_for_the_first() {
    let server = Server::start(SERVER, ["--sequential"]).unwrap();
    let mut first = connect(&server);
    assert_eq!(ask(&mut first, "mine"), "MINE");

    let mut second = connect(&server);
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    second.write_all(b"me too").unwrap();
    let mut reply = [0; 6];
    assert!(
        second.read_exact(&mut reply).is_err(),
        "served while another client was connected"
    );

    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"ME TOO");
}

/// The bound on threads: with --max-clients 2, a third client waits for a place.
#[test]
fn a_client_beyond_max_clients_waits_for_a_free_place() {
    let server = Server::start(SERVER, ["--max-clients", "2"]).unwrap();
    let mut first = connect(&server);
    let mut second = connect(&server);
    assert_eq!(ask(&mut first, "a"), "A");
    assert_eq!(ask(&mut second, "b"), "B");

    let mut third = connect(&server);
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    third.write_all(b"c").unwrap();
    let mut reply = [0; 1];
    assert!(
        third.read_exact(&mut reply).is_err(),
        "a third client was served beyond the bound"
    );

    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    third.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"C");
}

/// A silent client is disconnected after --idle-timeout, so it cannot hold a
/// thread forever.
#[test]
fn a_silent_client_is_disconnected_after_the_idle_timeout() {
    let server = Server::start(SERVER, ["--idle-timeout", "0.3"]).unwrap();
    let mut silent = connect(&server);
    let mut byte = [0; 1];
    assert_eq!(
        silent.read(&mut byte).unwrap(),
        0,
        "the server closes the connection"
    );
    assert!(server.wait_for_stderr("silent for 0.3 s", Duration::from_secs(5)));
}

/// The client gives up on a reply that does not come, with a clear error.
#[test]
fn client_times_out_when_the_server_is_busy() {
    let server = Server::start(SERVER, ["--sequential"]).unwrap();
    let _first = connect(&server);
    let output = client(CLIENT, &server)
        .args(["--timeout", "0.3", "hello?"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.contains("nothing of it came within 0.3 s"),
        "{stderr}"
    );
}

/// `--timeout` bounds the whole reply: a server that sends one byte at a
/// time, each well within the timeout, cannot hold the client past it.
#[test]
fn a_reply_that_trickles_in_is_cut_at_the_timeout() {
    // 20 bytes, 0.7 s apart: 14 s for the reply, each byte in time.
    let server = FakeServer::start(peer::trickle(
        b"A SLOW, SLOW ANSWER.",
        Duration::from_millis(700),
    ));
    // Held by the trickle, it would wait 14 s; 8 s leaves room for a busy machine.
    peer::assert_cut_at_a_1_s_deadline(
        server
            .client(CLIENT)
            .args(["--timeout", "1", "a slow, slow answer."]),
        Duration::from_secs(8),
    );
}

/// A reply that forges lines or drives the terminal is shown on one line,
/// escapes visible.
#[test]
fn a_forged_reply_is_printed_on_one_line_without_escapes() {
    let message = "x".repeat(peer::FORGED.len());
    let server = FakeServer::start(|mut connection| {
        let mut message = vec![0u8; peer::FORGED.len()];
        if connection.read_exact(&mut message).is_ok() {
            let _ = connection.write_all(peer::FORGED.as_bytes());
        }
    });
    let output = server.client(CLIENT).arg(&message).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    peer::assert_printed_safely(&String::from_utf8_lossy(&output.stdout), 1);
}

/// A 32 MiB message: the client reads the answer while it is still sending,
/// so neither side waits for the other with both kernel buffers full.
#[test]
fn a_32_mib_message_comes_back_whole() {
    let server = Server::start(SERVER, ["--quiet"]).unwrap();
    let message = "a".repeat(32 << 20);
    // About 3 s on an idle machine; the generous limits are for a busy one.
    let output = client(CLIENT, &server)
        .args(["--timeout", "100"])
        .write_stdin(format!("{message}\n"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(output.stdout.len(), (32 << 20) + 1);
    assert!(output.stdout[..32 << 20].iter().all(|&byte| byte == b'A'));
}

/// A connect that times out because the server's accept queue is full says
/// that the server is running but not accepting, not "is a server running?".
#[test]
fn a_connect_to_a_full_accept_queue_says_the_server_is_busy() {
    let server = Server::start(SERVER, ["--sequential", "--backlog", "1"]).unwrap();
    // One client being served, then enough to fill the queue behind it.
    let queued: Vec<TcpStream> = (0..4)
        .filter_map(|_| {
            TcpStream::connect_timeout(&server.addr(), Duration::from_millis(300)).ok()
        })
        .collect();
    assert!(!queued.is_empty());
    let output = client(CLIENT, &server).arg("hello?").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(
        stderr.contains("running there but not accepting"),
        "{stderr}"
    );
    assert!(!stderr.contains("is the server running"), "{stderr}");
}

/// What `listen(backlog)` really limits: a one-by-one server busy with its
/// first client still has every other client *connected* (the kernel does
/// the handshake, not `accept`), but with a tiny backlog some connects stall
/// for a second while their SYN is dropped and sent again. It is a queue,
/// not a limit on clients.
#[test]
fn a_tiny_backlog_stalls_connects_but_a_normal_one_does_not() {
    let crowd = Path::new(SERVER).with_file_name("lab02-crowd");
    let connect_report = |backlog: &str| {
        let server =
            Server::start(SERVER, ["--sequential", "--backlog", backlog]).unwrap();
        let output = assert_cmd::Command::new(&crowd)
            .args([
                "--port",
                &server.port(),
                "--clients",
                "20",
                "--connect-timeout",
                "1.5",
            ])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let nobody_waited = "connects: 0 took 0.5 s or more (a dropped SYN is sent again after 1 s); 0 gave up";

    let tiny = connect_report("1");
    assert!(
        !tiny.contains(nobody_waited),
        "some connects should stall or give up: {tiny}"
    );

    let normal = connect_report("128");
    assert!(
        normal.contains("connects: 20 of 20 clients connected"),
        "{normal}"
    );
    assert!(normal.contains(nobody_waited), "{normal}");
}

/// The crowd checks every reply, so a round trip that came back wrong or
/// never came back fails the run.
#[test]
fn the_crowd_does_round_trips_and_checks_every_reply() {
    let crowd = Path::new(SERVER).with_file_name("lab02-crowd");
    let server = Server::start(SERVER, ["--quiet"]).unwrap();
    let output = assert_cmd::Command::new(&crowd)
        .args([
            "--port",
            &server.port(),
            "--clients",
            "8",
            "--round-trips",
            "50",
            "--size",
            "100",
        ])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(report.contains("round trips: 400 in"), "{report}");
}

labkit::every_lab_tests! {
    lab: "02",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["hi"] => "connection refused",
    server_folder: None,
}
