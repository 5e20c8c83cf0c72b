//! Lab 04 over real sockets: the real binaries, port 0, no sleeps to wait for
//! readiness. The demo's two effects are checked on every one of 20 runs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use labkit::peer::{self, FakeServer};
use labkit::{Server, client, contract, reset};

const SERVER: &str = env!("CARGO_BIN_EXE_lab04-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab04-client");
const PARTIAL_WRITE: &str = env!("CARGO_BIN_EXE_lab04-partial-write");

/// How many times the two effects must show, in a row, without a miss.
const RUNS: usize = 20;

/// The reader delay for the repeated runs: long enough for a client's writes
/// to be all in the server's kernel, short enough to keep 20 runs quick.
const READ_DELAY: &str = "0.05";

/// The fix the client prints after every verdict.
const THE_FIX: &str = "the fix: put the boundaries into the bytes yourself, either
  - end each message with a delimiter such as \\n (a message must then never contain one), or
  - send each message's length before it (lab 05 does that)
";

/// A raw connection from the test itself, with a read timeout so a missing
/// report fails the test instead of hanging it.
fn connect(server: &Server) -> TcpStream {
    let stream =
        TcpStream::connect(server.addr()).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout can be set");
    stream
}

/// Closes our sending side and reads everything the server answers.
fn report_after(mut stream: TcpStream) -> String {
    stream.shutdown(Shutdown::Write).expect("half-close works");
    let mut report = String::new();
    stream
        .read_to_string(&mut report)
        .expect("the report arrives");
    report
}

/// Five small writes come out of one read, on every one of 20 runs: the
/// server reads only after they have all arrived.
#[test]
fn five_small_writes_stick_together_on_every_one_of_20_runs() {
    let server = Server::start(SERVER, ["--read-delay", READ_DELAY]).unwrap();
    let expected = format!(
        "write 1: 3 bytes |one|
write 2: 3 bytes |two|
write 3: 5 bytes |three|
write 4: 4 bytes |four|
write 5: 4 bytes |five|
sent 5 messages (19 bytes) in 5 writes, then shut down our sending side: no more data
the server read 19 bytes in 1 read, and took each read for one message
verdict: 5 messages sent, 1 read: they stuck together
{THE_FIX}"
    );
    for _ in 0..RUNS {
        client(CLIENT, &server)
            .args(["one", "two", "three", "four", "five"])
            .assert()
            .success()
            .stdout(expected.clone());
    }
    let log = server.stop();
    let glued: Vec<_> = log
        .iter()
        .filter(|line| line.ends_with(": message 1: 19 bytes |onetwothreefourfive|"))
        .collect();
    assert_eq!(glued.len(), RUNS, "{log:#?}");
    assert!(
        !log.iter().any(|line| line.contains("message 2")),
        "{log:#?}"
    );
}

/// One 10000-byte write comes out of exactly 10 reads of at most 1024 bytes,
/// on every one of 20 runs.
#[test]
fn one_large_write_is_cut_into_10_reads_on_every_one_of_20_runs() {
    let server = Server::start(
        SERVER,
        ["--read-delay", READ_DELAY, "--read-buffer", "1024"],
    )
    .unwrap();
    let expected = format!(
        "write 1: 10000 bytes |{a}…{a}|
sent 1 message (10000 bytes) in 1 write, then shut down our sending side: no more data
the server read 10000 bytes in 10 reads, and took each read for one message
verdict: 1 message sent, 10 reads: it was cut into pieces
{THE_FIX}",
        a = "a".repeat(16)
    );
    for _ in 0..RUNS {
        client(CLIENT, &server)
            .args(["--count", "1", "--size", "10000"])
            .assert()
            .success()
            .stdout(expected.clone());
    }
    let log = server.stop();
    let count = |suffix: &str| log.iter().filter(|line| line.contains(suffix)).count();
    assert_eq!(count(": message 9: 1024 bytes |"), RUNS, "{log:#?}");
    assert_eq!(count(": message 10: 784 bytes |"), RUNS, "{log:#?}");
    assert_eq!(count(": message 11:"), 0, "{log:#?}");
}

/// As many reads as messages does not mean one read per message: three writes
/// of 700 bytes, read 1000 bytes at a time, give three reads, none of which is
/// a message.
#[test]
fn equal_counts_do_not_mean_that_the_boundaries_matched() {
    let server = Server::start(
        SERVER,
        ["--read-delay", READ_DELAY, "--read-buffer", "1000"],
    )
    .unwrap();
    let output = client(CLIENT, &server)
        .args(["--count", "3", "--size", "700"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("verdict: 3 messages sent, 3 reads: as many reads as messages"),
        "{stdout}"
    );
    let log = server.stop().join("\n");
    for read in [
        ": message 1: 1000 bytes |aaaaaaaaaaaaaaaa…bbbbbbbbbbbbbbbb|",
        ": message 2: 1000 bytes |bbbbbbbbbbbbbbbb…cccccccccccccccc|",
        ": message 3: 100 bytes |cccccccccccccccc…cccccccccccccccc|",
    ] {
        assert!(log.contains(read), "{read} in {log}");
    }
}

/// The report is one line, `reads=R bytes=B\n`, sent after the client closes
/// its side; with a 1-byte read buffer every byte is a read of its own.
#[test]
fn the_report_counts_reads_and_bytes_after_the_client_closes_its_side() {
    let server = Server::start(SERVER, ["--read-buffer", "1"]).unwrap();
    let mut stream = connect(&server);
    stream.write_all(b"hello").unwrap();
    assert_eq!(report_after(stream), "reads=5 bytes=5\n");
    let log = server.stop().join("\n");
    assert!(log.contains(": message 5: 1 byte |o|"), "{log}");
    assert!(
        log.contains(
            "finished sending: 5 bytes as 5 messages; sent back `reads=5 bytes=5`"
        ),
        "{log}"
    );
}

/// A client that sends nothing and closes gets `reads=0 bytes=0`.
#[test]
fn a_client_that_sends_nothing_gets_a_report_of_zero_reads() {
    let server = Server::start(SERVER, [""; 0]).unwrap();
    assert_eq!(report_after(connect(&server)), "reads=0 bytes=0\n");
}

/// Turning Nagle's algorithm off does not keep messages apart: a late reader
/// still finds all five writes waiting together.
#[test]
fn tcp_nodelay_does_not_keep_messages_apart_from_a_late_reader() {
    let server = Server::start(SERVER, ["--read-delay", READ_DELAY]).unwrap();
    let output = client(CLIENT, &server)
        .args(["--nodelay", "--count", "5", "--size", "4"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("verdict: 5 messages sent, 1 read: they stuck together\n"),
        "{stdout}"
    );
    let log = server.stop().join("\n");
    assert!(
        log.contains(": message 1: 20 bytes |aaaabbbbccccddddeeee|"),
        "{log}"
    );
}

/// A small receive buffer (SO_RCVBUF) cuts a large write into pieces even
/// when the read buffer could hold all of it.
#[test]
fn a_small_receive_buffer_cuts_a_large_write_even_with_a_large_read_buffer() {
    let server = Server::start(
        SERVER,
        [
            "--read-delay",
            READ_DELAY,
            "--read-buffer",
            "1048576",
            "--receive-buffer",
            "4096",
        ],
    )
    .unwrap();
    let output = client(CLIENT, &server)
        .args(["--count", "1", "--size", "100000"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("it was cut into pieces"), "{stdout}");
    let log = server.stop().join("\n");
    assert!(log.contains("each connection's receive buffer: "), "{log}");
    assert!(
        log.contains("each read takes at most 1048576 bytes"),
        "{log}"
    );
}

/// A client that resets in the middle does not stop the server, and the
/// sequential server serves the next client.
#[test]
fn sequential_server_survives_a_reset_and_serves_the_next_client() {
    let server = Server::start(SERVER, ["--sequential"]).unwrap();
    let mut rude = connect(&server);
    rude.write_all(b"half a mess").unwrap();
    reset(rude);
    let next = connect(&server);
    assert_eq!(report_after(next), "reads=0 bytes=0\n");
    let log = server.stop().join("\n");
    assert!(log.contains("reset the connection"), "{log}");
}

/// A silent client is disconnected after --idle-timeout, without a report.
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

/// A report that does not come in time is one clear error, naming the cause.
#[test]
fn client_gives_up_on_a_report_that_does_not_come() {
    let server = Server::start(SERVER, ["--read-delay", "5"]).unwrap();
    let output = client(CLIENT, &server)
        .args(["--timeout", "0.3", "hello?"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    contract::assert_one_error_line(&stderr);
    assert!(stderr.contains("no report within 0.3 s"), "{stderr}");
}

/// A server that trickles its report and never closes cannot hold the
/// client: `--timeout` bounds the whole report, not each read.
#[test]
fn client_gives_up_on_a_report_that_trickles_in() {
    // The report a byte at a time: 13 s for 16 bytes.
    let server = FakeServer::start(peer::trickle(
        b"reads=1 bytes=6
",
        Duration::from_millis(800),
    ));
    // The trickle would hold it 13 s, then for good: it never closes.
    peer::assert_cut_at_a_1_s_deadline(
        server.client(CLIENT).args(["--timeout", "1", "hello?"]),
        Duration::from_secs(10),
    );
}

/// One non-blocking write of 8 MiB to a side that does not read returns less
/// than asked, and the loop after it delivers every byte.
#[test]
fn one_large_write_takes_only_part_and_the_loop_sends_the_rest() {
    let output = assert_cmd::Command::new(PARTIAL_WRITE)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let returned: usize = stdout
        .split("write() was asked to send 8388608 bytes and returned ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no short write reported: {stdout}"));
    assert!(returned > 0 && returned < 8388608, "{stdout}");
    assert!(
        stdout.contains(&format!("that {} bytes were not sent", 8388608 - returned)),
        "{stdout}"
    );
    assert!(
        stdout
            .ends_with("the other side received 8388608 bytes, every one in its place\n"),
        "{stdout}"
    );
}

/// A value out of range is a usage error like an unknown option: one line,
/// status 2.
#[test]
fn a_count_of_zero_is_one_error_line_and_status_2() {
    contract::usage_error_is_one_line_with_status_2(CLIENT, &["--count", "0"]);
}

labkit::every_lab_tests! {
    lab: "04",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["hi"] => "connection refused",
    server_folder: None,
}
