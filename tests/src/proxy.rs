//! A TCP proxy that cuts the byte stream differently on purpose.
//!
//! On one machine, a program that treats one read as one message usually
//! gets away with it: small messages arrive whole. Between the client and the
//! server this proxy re-cuts the bytes (one byte per write, random cuts, or
//! several messages merged into one write), so a framing bug shows up every
//! time instead of once in a while on a real network. The bytes themselves,
//! and their order, are never changed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// How the proxy cuts the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cut {
    /// Every byte in a write of its own.
    Bytes,
    /// Writes of random sizes, from 1 byte to `max_chunk`.
    Random,
    /// Whatever arrives within `hold` is sent as one write.
    Merge,
}

/// What the proxy does to each direction of each connection.
#[derive(Debug, Clone, Copy)]
pub struct Recut {
    /// How the stream is cut.
    pub cut: Cut,
    /// The largest random chunk.
    pub max_chunk: usize,
    /// A pause after each write (bytes, random) or the gathering time (merge).
    pub delay: Duration,
    /// Seed of the random cuts, so a failing run can be repeated exactly.
    pub seed: u64,
    /// Whether to log broken connections on stderr (the command does; the
    /// grader, whose checks break connections on purpose, does not).
    pub log_errors: bool,
}

/// Accepts connections on `listener` forever and relays each to `target`.
pub fn serve(listener: &TcpListener, target: SocketAddr, recut: Recut) {
    let mut connection_number: u64 = 0;
    for incoming in listener.incoming() {
        let client = match incoming {
            Ok(client) => client,
            Err(err) => {
                eprintln!("proxy: could not accept: {err}");
                continue;
            }
        };
        connection_number += 1;
        let mut recut = recut;
        recut.seed = recut.seed.wrapping_add(connection_number);
        thread::spawn(move || {
            if let Err(err) = relay(client, target, recut)
                && recut.log_errors
            {
                eprintln!("proxy: connection {connection_number}: {err}");
            }
        });
    }
}

/// Relays one connection both ways until both sides have finished.
fn relay(client: TcpStream, target: SocketAddr, recut: Recut) -> io::Result<()> {
    let server = TcpStream::connect(target)?;
    // Each small write must leave as a segment of its own, not wait for more.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_reader, server_writer) = (client.try_clone()?, server.try_clone()?);
    let upstream = thread::spawn(move || copy_recut(client_reader, server_writer, recut));
    let mut downstream_recut = recut;
    downstream_recut.seed = recut.seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    let downstream = copy_recut(server, client, downstream_recut);
    let upstream = upstream
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the relay thread panicked")));
    downstream.and(upstream)
}

/// Copies `from` to `to`, cutting the writes as `recut` says; at the end of
/// `from`, passes the end on (shutdown of the write side) so the peer sees it.
fn copy_recut(mut from: TcpStream, mut to: TcpStream, recut: Recut) -> io::Result<()> {
    let mut random = XorShift(recut.seed | 1);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if recut.cut == Cut::Merge {
            from.set_read_timeout(None)?;
        }
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                let _ = to.shutdown(Shutdown::Write);
                return Err(err);
            }
        };
        match recut.cut {
            Cut::Bytes | Cut::Random => {
                write_in_pieces(&buffer[..n], &recut, &mut random, &mut to)?
            }
            Cut::Merge => {
                let mut gathered = buffer[..n].to_vec();
                // Keep reading for `delay`, then send everything as one write.
                from.set_read_timeout(Some(recut.delay.max(Duration::from_millis(1))))?;
                let mut more = vec![0u8; 64 * 1024];
                while gathered.len() < 1 << 20 {
                    match from.read(&mut more) {
                        Ok(0) => break,
                        Ok(m) => gathered.extend_from_slice(&more[..m]),
                        Err(_) => break,
                    }
                }
                to.write_all(&gathered)?;
            }
        }
    }
    to.shutdown(Shutdown::Write)
}

/// Writes `bytes` to `to` in pieces: one byte each, or random sizes up to
/// `max_chunk`, pausing after each.
fn write_in_pieces(
    bytes: &[u8],
    recut: &Recut,
    random: &mut XorShift,
    to: &mut impl Write,
) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let size = match recut.cut {
            Cut::Random => {
                1 + (random.next() as usize % recut.max_chunk.max(1)).min(rest.len() - 1)
            }
            Cut::Bytes | Cut::Merge => 1,
        };
        to.write_all(&rest[..size])?;
        rest = &rest[size..];
        pause(recut.delay);
    }
    Ok(())
}

fn pause(delay: Duration) {
    if !delay.is_zero() {
        thread::sleep(delay);
    }
}

/// A tiny, seedable pseudo-random generator: the same seed, the same cuts.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a proxy in front of a server that records every read it makes.
    fn reads_through_proxy(cut: Cut, writes: &[&[u8]]) -> Vec<Vec<u8>> {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = server.local_addr().unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_addr = proxy.local_addr().unwrap();
        let recut = Recut {
            cut,
            max_chunk: 3,
            delay: Duration::from_millis(if cut == Cut::Merge { 50 } else { 1 }),
            seed: 7,
            log_errors: true,
        };
        thread::spawn(move || serve(&proxy, target, recut));
        let mut client = TcpStream::connect(proxy_addr).unwrap();
        client.set_nodelay(true).unwrap();
        let (mut conn, _) = server.accept().unwrap();
        for write in writes {
            client.write_all(write).unwrap();
        }
        client.shutdown(Shutdown::Write).unwrap();
        let mut reads = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            let n = conn.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            reads.push(buffer[..n].to_vec());
        }
        reads
    }

    /// A writer that records each write it is given.
    #[derive(Default)]
    struct Recorder(Vec<Vec<u8>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pieces(cut: Cut, bytes: &[u8]) -> Vec<Vec<u8>> {
        let recut = Recut {
            cut,
            max_chunk: 3,
            delay: Duration::ZERO,
            seed: 7,
            log_errors: false,
        };
        let mut recorder = Recorder::default();
        write_in_pieces(bytes, &recut, &mut XorShift(recut.seed), &mut recorder).unwrap();
        recorder.0
    }

    #[test]
    fn bytes_are_written_one_at_a_time_and_unchanged() {
        let written = pieces(Cut::Bytes, b"hello");
        assert_eq!(written, [b"h", b"e", b"l", b"l", b"o"]);
    }

    #[test]
    fn random_cuts_never_exceed_the_largest_chunk_and_keep_every_byte() {
        let written = pieces(Cut::Random, b"0123456789abcdef");
        assert_eq!(written.concat(), b"0123456789abcdef");
        assert!(
            written.iter().all(|piece| (1..=3).contains(&piece.len())),
            "{written:?}"
        );
        assert!(written.len() >= 6, "{written:?}");
    }

    #[test]
    fn bytes_cross_a_real_proxy_intact() {
        let reads = reads_through_proxy(Cut::Random, &[b"through ", b"a real proxy"]);
        assert_eq!(reads.concat(), b"through a real proxy");
    }

    #[test]
    fn separate_writes_are_merged_into_one() {
        let reads = reads_through_proxy(Cut::Merge, &[b"one ", b"two ", b"three"]);
        assert_eq!(reads, vec![b"one two three".to_vec()]);
    }
}
