//! Lab 04's exercise 3: messages framed by a delimiter, counted whatever the
//! reads.

// ANCHOR: delimiter
/// Exercise 3: splits a byte stream into messages that end in `\n`, however
/// the reads cut it. The server feeds it every read, and `finish`es it at the
/// end of the stream.
#[derive(Debug, Default)]
pub struct Messages {
    /// Bytes read but not yet part of a whole message: the start of one
    /// whose `\n` has not arrived yet.
    pending: Vec<u8>,
    /// Whole messages so far.
    pub count: u64,
}

impl Messages {
    /// Takes one read's bytes, and counts every message they complete.
    pub fn feed(&mut self, read: &[u8]) {
        self.pending.extend_from_slice(read);
        while let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
            self.pending.drain(..=end);
            self.count += 1;
        }
    }

    /// The count at the end of the stream; bytes after the last `\n` are a
    /// message that was cut off, which is an error, not a message.
    pub fn finish(self) -> Result<u64, String> {
        match self.pending.len() {
            0 => Ok(self.count),
            cut => Err(format!("the stream ended {cut} bytes into a message")),
        }
    }
}
// ANCHOR_END: delimiter

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::thread;

    /// 100 messages of 10 bytes, written a byte at a time over a real TCP
    /// connection, read 1 byte and then 1000 bytes at a time.
    #[test]
    fn one_hundred_messages_are_counted_whatever_the_reads() {
        for read_size in [1, 1000] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let writer = thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                for byte in b"0123456789\n".repeat(100) {
                    stream.write_all(&[byte]).unwrap();
                }
                stream.shutdown(Shutdown::Write).unwrap();
            });
            let (mut connection, _) = listener.accept().unwrap();
            let mut messages = Messages::default();
            let mut buffer = vec![0u8; read_size];
            loop {
                let n = connection.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                messages.feed(&buffer[..n]);
            }
            writer.join().unwrap();
            assert_eq!(messages.finish(), Ok(100), "reads of {read_size}");
        }
    }

    #[test]
    fn a_stream_cut_inside_a_message_is_an_error() {
        let mut messages = Messages::default();
        messages.feed(b"one\ntw");
        assert_eq!(messages.count, 1);
        assert!(messages.finish().unwrap_err().contains("2 bytes"));
    }
}
