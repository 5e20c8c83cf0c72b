//! Lab 03's exercises 1 to 3: the client's side of a UDP exchange.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

// ANCHOR: numbered
/// Exercise 1: the datagram for message number `seq`, `1 one`. The server
/// changes only the bytes `a` to `z`, so the digits come back as they went.
pub fn numbered(seq: u32, message: &[u8]) -> Vec<u8> {
    let mut datagram = format!("{seq} ").into_bytes();
    datagram.extend_from_slice(message);
    datagram
}

/// Exercise 1: the reply itself if `datagram` answers message `seq`; `None`
/// for a late answer to an earlier message, which the caller logs and skips.
pub fn reply_to(seq: u32, datagram: &[u8]) -> Option<&[u8]> {
    datagram.strip_prefix(format!("{seq} ").as_bytes())
}

/// Exercise 1: sends message `seq` and waits for its own reply, skipping
/// late ones; the socket's read timeout still bounds each wait.
pub fn ask_numbered(
    socket: &UdpSocket,
    server: SocketAddr,
    seq: u32,
    message: &[u8],
) -> io::Result<Vec<u8>> {
    socket.send_to(&numbered(seq, message), server)?;
    let mut buffer = [0u8; 65_535];
    loop {
        let (n, sender) = socket.recv_from(&mut buffer)?;
        if sender != server {
            continue; // a stranger's datagram, as the lab already ignores
        }
        match reply_to(seq, &buffer[..n]) {
            Some(reply) => return Ok(reply.to_vec()),
            None => eprintln!(
                "a late reply, not to message {seq}: {:?}",
                String::from_utf8_lossy(&buffer[..n])
            ),
        }
    }
}
// ANCHOR_END: numbered

// ANCHOR: connected
/// Exercise 2: the same exchange on a connected socket. `connect` sends
/// nothing; it fixes the peer, so the kernel drops other senders' datagrams
/// and reports the ICMP "port unreachable" to the next `recv`.
pub fn ask_connected(
    server: SocketAddr,
    message: &[u8],
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("a literal address")
    } else {
        "[::]:0".parse().expect("a literal address")
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    // Still needed: a slow server, or a lost datagram, sends no ICMP at all.
    socket.set_read_timeout(Some(timeout))?;
    socket.send(message)?;
    let mut buffer = [0u8; 65_535];
    let n = socket.recv(&mut buffer)?;
    Ok(buffer[..n].to_vec())
}
// ANCHOR_END: connected

// ANCHOR: backoff
/// Exercise 3: how long each of `tries` tries waits, doubling from `first`.
/// The retry loop calls `set_read_timeout(Some(wait))` before each try.
pub fn backoff(first: Duration, tries: u32) -> Vec<Duration> {
    (0..tries)
        .map(|try_index| first * 2u32.pow(try_index))
        .collect()
}
// ANCHOR_END: backoff

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Instant;

    /// A server on port 0 that answers its first datagram twice: first as a
    /// late reply to message 1 would come, then the right reply, in capitals.
    fn late_then_right_server() -> (SocketAddr, thread::JoinHandle<()>) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            let (n, client) = server.recv_from(&mut buffer).unwrap();
            server.send_to(b"1 ONE", client).unwrap();
            server
                .send_to(&buffer[..n].to_ascii_uppercase(), client)
                .unwrap();
        });
        (addr, handle)
    }

    #[test]
    fn a_late_reply_to_an_earlier_message_is_skipped() {
        let (server, handle) = late_then_right_server();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(ask_numbered(&socket, server, 2, b"two").unwrap(), b"TWO");
        handle.join().unwrap();
        assert_eq!(reply_to(1, b"12 TWELVE"), None);
    }

    #[test]
    fn a_connected_socket_learns_at_once_that_nobody_listens() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let started = Instant::now();
        let err = ask_connected(addr, b"hello", Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn four_tries_that_double_wait_fifteen_seconds_in_all() {
        let waits = backoff(Duration::from_secs(1), 4);
        assert_eq!(
            waits.iter().map(Duration::as_secs).collect::<Vec<_>>(),
            [1, 2, 4, 8]
        );
        assert_eq!(waits.iter().sum::<Duration>(), Duration::from_secs(15));
    }
}
