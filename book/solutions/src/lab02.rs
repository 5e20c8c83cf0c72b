//! Lab 02's exercise 2: a client that resets its connection on purpose.

use std::net::TcpStream;

use shared::Failure;

/// Exercise 2: closes `stream` with a reset (RST) instead of the usual FIN,
/// as the client's `--reset` asks; the suite's tests do the same
/// (`labkit::reset`) to show how the server logs a client that vanished.
pub fn close_with_reset(stream: TcpStream) -> Result<(), Failure> {
    // ANCHOR: reset
    socket2::SockRef::from(&stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .map_err(|err| Failure::io("set SO_LINGER", &err))?;
    drop(stream);
    // ANCHOR_END: reset
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Read, Write};
    use std::net::TcpListener;
    use std::thread;

    /// One message and its reply over real TCP, as lab 02 has them; then the
    /// client closes with `close`. Returns what the server's next read,
    /// the one `communicate` waits in, gave: `Ok(0)` for FIN, an error for RST.
    fn servers_read_after_the_reply(close: fn(TcpStream)) -> io::Result<usize> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let mut message = [0u8; 5];
            connection.read_exact(&mut message).unwrap();
            connection.write_all(&message.to_ascii_uppercase()).unwrap();
            connection.read(&mut [0u8; 1024])
        });
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"hello").unwrap();
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"HELLO");
        close(stream);
        server.join().unwrap()
    }

    #[test]
    fn the_server_reads_a_reset_where_it_would_read_the_end_of_the_stream() {
        let reset =
            servers_read_after_the_reply(|stream| close_with_reset(stream).unwrap());
        let err = reset.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert_eq!(servers_read_after_the_reply(drop).unwrap(), 0);
    }
}
