//! The other face of a byte stream: one `write` may take only part of what
//! it is given, and says so only in the number it returns.
//!
//! The tutorials call `send(data)` and ignore its result. Here a connection
//! to ourselves makes that result visible: the receiving side does not read,
//! the sending side is non-blocking, and one `write` of several MiB returns
//! after taking only what fits in the two kernel buffers.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use shared::Failure;
use socket2::SockRef;

/// What happened to one large write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The address of the connection to ourselves (the listening side).
    pub address: SocketAddr,
    /// The send buffer the kernel granted (SO_SNDBUF).
    pub send_buffer: usize,
    /// The receive buffer the kernel granted (SO_RCVBUF).
    pub receive_buffer: usize,
    /// How many bytes the write was asked to send.
    pub asked: usize,
    /// How many bytes the first `write` call took.
    pub first_write: usize,
    /// How many more `write` calls it took to send the rest.
    pub more_writes: u64,
    /// How many times the loop found the send buffer full and waited.
    pub waits: u64,
    /// How many bytes the receiver got, in the right order.
    pub received: u64,
}

/// How long the loop waits when the send buffer is full before trying again.
///
/// A real program would ask to be woken when the socket can take more
/// (`poll`, or an async runtime); a short nap keeps this tool to `std`.
const FULL_BUFFER_NAP: Duration = Duration::from_millis(1);

/// Writes `size` bytes in one `write` call to a receiver that is not reading,
/// then sends the rest in a loop, as `write_all` would, while it reads.
///
/// `buffer` is the size asked for both kernel buffers. Setting them (instead
/// of leaving them to the kernel, which grows them as it sees fit) makes a
/// short first write certain for any `size` well above twice the buffer.
pub fn demonstrate(size: usize, buffer: usize) -> Result<Outcome, Failure> {
    let data: Vec<u8> = (0..size).map(pattern_byte).collect();

    // ANCHOR: setup
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|err| Failure::io("listen on 127.0.0.1", &err))?;
    let address = listener
        .local_addr()
        .map_err(|err| Failure::io("read the bound address", &err))?;
    // Accepted connections inherit the listener's receive buffer.
    SockRef::from(&listener)
        .set_recv_buffer_size(buffer)
        .map_err(|err| Failure::io("set the receive buffer (SO_RCVBUF)", &err))?;
    let mut sender = TcpStream::connect(address)
        .map_err(|err| Failure::io("connect to ourselves", &err))?;
    let (receiver, _) = listener
        .accept()
        .map_err(|err| Failure::io("accept our own connection", &err))?;
    SockRef::from(&sender)
        .set_send_buffer_size(buffer)
        .map_err(|err| Failure::io("set the send buffer (SO_SNDBUF)", &err))?;
    // A non-blocking socket never waits: `write` takes what fits now and
    // returns, or fails with WouldBlock if nothing fits.
    sender
        .set_nonblocking(true)
        .map_err(|err| Failure::io("make the socket non-blocking", &err))?;
    // ANCHOR_END: setup
    let send_buffer = SockRef::from(&sender)
        .send_buffer_size()
        .map_err(|err| Failure::io("read the send buffer size", &err))?;
    let receive_buffer = SockRef::from(&receiver)
        .recv_buffer_size()
        .map_err(|err| Failure::io("read the receive buffer size", &err))?;

    // ANCHOR: short_write
    // One call, asked to send everything. Nobody reads on the other side, so
    // only the send buffer and the receiver's window can take bytes.
    let first_write = match sender.write(&data) {
        Ok(n) => n,
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => 0,
        Err(err) => return Err(Failure::io("write to ourselves", &err)),
    };
    // ANCHOR_END: short_write

    let reading = thread::spawn(move || read_and_check(receiver));

    // ANCHOR: write_loop
    // What `write_all` does: call `write` again with whatever is left, until
    // nothing is left. (On a blocking socket `write` waits for room by
    // itself; this one is non-blocking, so the loop waits instead.)
    let mut written = first_write;
    let (mut more_writes, mut waits) = (0, 0);
    while written < data.len() {
        match sender.write(&data[written..]) {
            Ok(n) => {
                written += n;
                more_writes += 1;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                waits += 1;
                thread::sleep(FULL_BUFFER_NAP);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(Failure::io("write to ourselves", &err)),
        }
    }
    // ANCHOR_END: write_loop
    sender
        .shutdown(Shutdown::Write)
        .map_err(|err| Failure::io("close the sending side", &err))?;

    let received = reading
        .join()
        .map_err(|_| Failure::new("the reading thread panicked"))?
        .map_err(|err| Failure::io("read what was sent", &err))?;
    Ok(Outcome {
        address,
        send_buffer,
        receive_buffer,
        asked: size,
        first_write,
        more_writes,
        waits,
        received,
    })
}

/// The byte at `position` of the data: a pattern that repeats every 251
/// bytes (a prime), so that a lost or repeated chunk cannot line up again.
fn pattern_byte(position: usize) -> u8 {
    (position % 251) as u8
}

/// Reads until the end of the stream and counts the bytes, checking that
/// each one is where the pattern says; a byte out of place is an error.
fn read_and_check(mut receiver: TcpStream) -> io::Result<u64> {
    // A safety net: if the sender stopped without closing, fail, not hang.
    receiver.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = receiver.read(&mut buffer)?;
        if n == 0 {
            return Ok(received);
        }
        for &byte in &buffer[..n] {
            if byte != pattern_byte(received as usize) {
                return Err(io::Error::other(format!(
                    "byte {received} is out of place: the stream lost or repeated data"
                )));
            }
            received += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_non_blocking_write_is_short_and_the_loop_sends_the_rest() {
        let outcome = demonstrate(4 * 1024 * 1024, 64 * 1024).unwrap();
        assert!(outcome.first_write > 0, "{outcome:?}");
        assert!(outcome.first_write < outcome.asked, "{outcome:?}");
        assert!(outcome.more_writes >= 1, "{outcome:?}");
        assert_eq!(outcome.received, 4 * 1024 * 1024);
    }
}
