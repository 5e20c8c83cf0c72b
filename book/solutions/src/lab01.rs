//! Lab 01's exercises 1, 3, 4 and 5. Each region is the lines a student puts
//! in the lab in place of the old ones; the function around it does what the
//! lab does around them, so the tests can run it over a real connection.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use lab01_hello::server;
use shared::Failure;

/// Exercise 1: answers `message` with a greeting that names the `client`,
/// as `serve_one_client` does once the line that builds `reply` is changed.
pub fn answer_with_greeting(
    connection: &mut TcpStream,
    client: SocketAddr,
    message: &[u8],
) -> io::Result<()> {
    // ANCHOR: greet
    let mut reply = format!("hello {client}, you said: ").into_bytes();
    reply.extend_from_slice(&message.to_ascii_uppercase());
    // ANCHOR_END: greet
    connection.write_all(&reply)
}

/// Exercise 3: logs, and returns, the address of our own end of `stream`:
/// the port the kernel picked when the client connected without `bind`.
pub fn log_local_address(stream: &TcpStream) -> Result<SocketAddr, Failure> {
    // ANCHOR: local_address
    let local = stream
        .local_addr()
        .map_err(|err| shared::Failure::io("read our own address", &err))?;
    eprintln!("connected from {local}");
    // ANCHOR_END: local_address
    Ok(local)
}

/// Exercise 4: what `lab01-server` does once the last line of its closure is
/// changed: three clients, one after another, from one listening socket.
pub fn serve_three_clients(listener: TcpListener) -> Result<(), Failure> {
    // ANCHOR: three_clients
    for _ in 0..3 {
        server::serve_one_client(&listener)?;
    }
    Ok(())
    // ANCHOR_END: three_clients
}

/// Exercise 5, the first try: answers `message` with its bytes in reverse
/// order, which breaks every character that takes more than one byte.
pub fn answer_reversed_bytes(
    connection: &mut TcpStream,
    message: &[u8],
) -> io::Result<()> {
    // ANCHOR: reverse_bytes
    let mut reply = message.to_vec();
    reply.reverse();
    // ANCHOR_END: reverse_bytes
    connection.write_all(&reply)
}

/// Exercise 5, the answer: decodes `message` as text first, and answers with
/// its characters in reverse order.
pub fn answer_reversed_characters(
    connection: &mut TcpStream,
    message: &[u8],
) -> io::Result<()> {
    // ANCHOR: reverse_characters
    let text = String::from_utf8_lossy(message);
    let reply: String = text.chars().rev().collect();
    let reply = reply.into_bytes();
    // ANCHOR_END: reverse_characters
    connection.write_all(&reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::thread;

    /// What an answer does with one client's connection, address and message.
    type Answer = fn(&mut TcpStream, SocketAddr, &[u8]) -> io::Result<()>;

    /// One exchange as lab 01 has it, over real TCP: the server accepts one
    /// client, reads its message in one read, lets `answer` reply and closes;
    /// the client sends `message` and reads to the end of the stream.
    /// Returns the reply and the client's own address.
    fn exchange(message: &'static [u8], answer: Answer) -> (Vec<u8>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut connection, client) = listener.accept().unwrap();
            let mut buffer = [0u8; server::READ_BUFFER_SIZE];
            let n = connection.read(&mut buffer).unwrap();
            answer(&mut connection, client, &buffer[..n]).unwrap();
        });
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(message).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        server.join().unwrap();
        (reply, stream.local_addr().unwrap())
    }

    #[test]
    fn the_greeting_names_the_clients_own_address_and_port() {
        let (reply, client) = exchange(b"hi there", answer_with_greeting);
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            format!("hello {client}, you said: HI THERE")
        );
    }

    #[test]
    fn each_connection_gets_its_own_port_the_server_sees_too() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let first = TcpStream::connect(addr).unwrap();
        let second = TcpStream::connect(addr).unwrap();
        for stream in [&first, &second] {
            let (_, seen_by_server) = listener.accept().unwrap();
            assert_eq!(log_local_address(stream).unwrap(), seen_by_server);
        }
        assert_ne!(
            log_local_address(&first).unwrap().port(),
            log_local_address(&second).unwrap().port()
        );
    }

    #[test]
    fn three_clients_are_served_and_a_fourth_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || serve_three_clients(listener));
        for (word, expected) in [("one", "ONE"), ("two", "TWO"), ("three", "THREE")] {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(word.as_bytes()).unwrap();
            let mut reply = String::new();
            stream.read_to_string(&mut reply).unwrap();
            assert_eq!(reply, expected);
        }
        server.join().unwrap().unwrap();
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    }

    #[test]
    fn reversed_bytes_break_a_two_byte_character_and_reversed_characters_do_not() {
        let bytes = |connection: &mut TcpStream, _: SocketAddr, message: &[u8]| {
            answer_reversed_bytes(connection, message)
        };
        let characters = |connection: &mut TcpStream, _: SocketAddr, message: &[u8]| {
            answer_reversed_characters(connection, message)
        };
        assert_eq!(exchange(b"hello", bytes).0, b"olleh");
        let (broken, _) = exchange("héllo".as_bytes(), bytes);
        assert_eq!(String::from_utf8_lossy(&broken), "oll\u{FFFD}\u{FFFD}h");
        assert_eq!(
            exchange("héllo".as_bytes(), characters).0,
            "olléh".as_bytes()
        );
    }
}
