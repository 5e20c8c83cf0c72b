//! `lab01-greeter` over a real socket: the server speaks first.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use labkit::Server;

const GREETER: &str = env!("CARGO_BIN_EXE_lab01-greeter");

#[test]
fn the_greeter_speaks_first_then_reads_the_answer() {
    let server = Server::start(GREETER, [""; 0]).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = [0u8; 13];
    stream.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"HELLO, WORLD\n");
    stream.write_all(b"hi back").unwrap();
    assert!(server.wait_for_stderr("received", Duration::from_secs(10)));
    let log = server.stop();
    assert!(
        log.iter()
            .any(|line| line == "received 7 bytes: \"hi back\""),
        "{log:#?}"
    );
}
