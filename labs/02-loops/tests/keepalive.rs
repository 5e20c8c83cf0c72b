//! `lab02-keepalive` against the real server: one connection for the
//! keep-alive requests, and one connection per request for the short ones.

use labkit::{Server, client};

const SERVER: &str = env!("CARGO_BIN_EXE_lab02-server");
const KEEPALIVE: &str = env!("CARGO_BIN_EXE_lab02-keepalive");

#[test]
fn keep_alive_uses_one_connection_and_short_connections_one_per_request() {
    let server = Server::start(SERVER, ["--quiet"]).unwrap();
    let output = client(KEEPALIVE, &server)
        .args(["--requests", "20"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("20 requests of 14 bytes to "),
        "{stdout}"
    );
    assert!(stdout.contains("one connection for all"), "{stdout}");
    assert!(stdout.contains("a new connection each"), "{stdout}");
    let log = server.stop();
    let connections = log
        .iter()
        .filter(|line| line.ends_with(": connected"))
        .count();
    assert_eq!(connections, 1 + 20, "{log:#?}");
}
