//! A TCP proxy that cuts the byte stream differently on purpose.
//!
//! On one machine, a program that treats one read as one message usually
//! gets away with it: small messages arrive whole. Between the client and the
//! server this proxy re-cuts the bytes (one byte per write, random cuts, or
//! several messages merged into one write), so a framing bug shows up every
//! time instead of once in a while on a real network. The bytes themselves,
//! and their order, are never changed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

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
    /// A pause after each piece (bytes, random) or the gathering time (merge).
    ///
    /// Pieces written back to back merge again in the receiver's buffer
    /// whenever the receiver is a little late to read: with both cores busy,
    /// a reader that trusts one read per message would then get away with it.
    /// The pause gives the receiver time to read each piece on its own.
    pub delay: Duration,
    /// How many bytes at the start of each message are cut (and paced, for
    /// bytes and random); the rest goes on as it comes. A message is what one
    /// side sends until the other side sends something, such as a request,
    /// or a reply with the file that follows it: its header is always cut,
    /// while a long body is not slowed down to a few bytes per pause.
    /// `usize::MAX` cuts every byte.
    pub cut_head: usize,
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
    // How many bytes each direction has carried, so that each can tell when
    // the other has spoken: its next bytes start a new message.
    let (sent_up, sent_down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let up = Direction {
        carried: Arc::clone(&sent_up),
        other: Arc::clone(&sent_down),
    };
    let upstream = thread::spawn(move || copy_recut(client_reader, server_writer, recut, &up));
    let mut downstream_recut = recut;
    downstream_recut.seed = recut.seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    let down = Direction {
        carried: sent_down,
        other: sent_up,
    };
    let downstream = copy_recut(server, client, downstream_recut, &down);
    let upstream = upstream
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the relay thread panicked")));
    downstream.and(upstream)
}

/// The byte counts of one direction of a relayed connection and of the other.
struct Direction {
    /// Bytes this direction has carried.
    carried: Arc<AtomicU64>,
    /// Bytes the other direction has carried.
    other: Arc<AtomicU64>,
}

/// Copies `from` to `to`, cutting the writes as `recut` says; at the end of
/// `from`, passes the end on (shutdown of the write side) so the peer sees it.
///
/// A message, for [`Recut::cut_head`], is what one side sends until the
/// other side sends something: a request, or a reply with its file.
fn copy_recut(
    mut from: TcpStream,
    to: TcpStream,
    recut: Recut,
    direction: &Direction,
) -> io::Result<()> {
    let mut random = XorShift(recut.seed | 1);
    let mut buffer = vec![0u8; 64 * 1024];
    // What the other side had carried when this message began, and how much
    // of this message has gone through.
    let mut other_at_start = u64::MAX;
    let mut in_message = 0usize;
    let mut message_started = Instant::now();
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
        // Counted before they are passed on: once the peer has them, and
        // may answer, the other direction already knows a message went by.
        direction.carried.fetch_add(n as u64, Ordering::SeqCst);
        match recut.cut {
            Cut::Bytes | Cut::Random => {
                let other = direction.other.load(Ordering::SeqCst);
                if other != other_at_start {
                    other_at_start = other;
                    in_message = 0;
                    message_started = Instant::now();
                }
                let head = n.min(recut.cut_head.saturating_sub(in_message));
                let offset = in_message;
                in_message = in_message.saturating_add(n);
                let piece_read = || {
                    let left = READ_WAIT_BUDGET.saturating_sub(message_started.elapsed());
                    wait_until_read(&to, left.min(READ_WAIT_LIMIT));
                };
                let pieces = &buffer[..head];
                write_in_pieces(pieces, offset, &recut, &mut &to, &mut random, &piece_read)?;
                (&to).write_all(&buffer[head..n])?;
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
                (&to).write_all(&gathered)?;
            }
        }
    }
    to.shutdown(Shutdown::Write)
}

/// Writes `bytes`, found at `offset` in their message, to `to` in pieces:
/// one byte each, or random sizes up to `max_chunk`, pausing after each;
/// after each piece that starts within the message's first [`READ_ALONE`]
/// bytes, also until `piece_read` returns.
fn write_in_pieces(
    bytes: &[u8],
    offset: usize,
    recut: &Recut,
    to: &mut impl Write,
    random: &mut XorShift,
    piece_read: &dyn Fn(),
) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let start = offset + (bytes.len() - rest.len());
        let size = match recut.cut {
            Cut::Random => {
                1 + (random.next() as usize % recut.max_chunk.max(1)).min(rest.len() - 1)
            }
            Cut::Bytes | Cut::Merge => 1,
        };
        to.write_all(&rest[..size])?;
        rest = &rest[size..];
        if start < READ_ALONE {
            piece_read();
        }
        pause(recut.delay);
    }
    Ok(())
}

/// How far into each message every piece is held back until the reader has
/// read all before it: every piece that holds a byte of a 4-byte length
/// prefix or the first byte after it, with some margin.
///
/// A pause alone cannot promise that a piece is read on its own: on a busy
/// machine the reader may sleep through several pieces and then get them in
/// one read. Held back like this, the reader has at most the first piece of
/// the header when it asks for the header (had the wait stopped at the
/// prefix, a piece ending exactly with the prefix would let the whole header
/// pile up behind it): a reader that trusts one read per prefix or per
/// header gets a part of it, every time. Only these few pieces wait: each
/// wait costs time, the rest of the message needs none.
const READ_ALONE: usize = 8;

/// The longest the proxy waits for its reader to take a piece: a reader
/// that is busy elsewhere is not waited for long: eight such waits must fit
/// well inside a check's 5 s wait for a reply, even when a look misses.
const READ_WAIT_LIMIT: Duration = Duration::from_millis(300);

/// The most the pieces of one message wait for their reader in all. Where
/// only `/proc/net/tcp` can be read, one look prints the whole table, and
/// with tens of thousands of connections on the machine (lab 07's thousand
/// clients leave as many in TIME_WAIT for a minute) a look took up to a
/// second: the waits of eight pieces, and the look that ends the last one,
/// must not add up past a check's 5 s wait for a reply.
const READ_WAIT_BUDGET: Duration = Duration::from_millis(2500);

/// Waits until the program reading from `to` has read every byte sent to
/// it, or `limit` has passed. Linux tells how many bytes each socket holds
/// unread (netlink, or `/proc/net/tcp`); elsewhere only the pause is left.
///
/// Nothing unread must be seen twice, a millisecond apart: bytes that arrive
/// while the reader is inside a read wait in a backlog that the count does
/// not show until that read ends.
fn wait_until_read(to: &TcpStream, limit: Duration) {
    let deadline = Instant::now() + limit;
    let all_read = || unread_by_peer(to).is_none_or(|unread| unread == 0);
    // A slow reader is looked at less and less often, so that many proxies
    // waiting at once do not keep both cores busy.
    let mut interval = Duration::from_millis(1);
    while Instant::now() < deadline {
        if all_read() {
            thread::sleep(Duration::from_millis(1));
            if Instant::now() >= deadline || all_read() {
                return;
            }
        }
        thread::sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(16));
    }
}

/// How many bytes the socket at the other end of `stream` (on this
/// machine) has received and its program has not read yet; `None` where
/// that cannot be seen.
fn unread_by_peer(stream: &TcpStream) -> Option<u64> {
    let ours = stream.local_addr().ok()?;
    let theirs = stream.peer_addr().ok()?;
    asked_of_the_kernel(theirs, ours).or_else(|| read_in_proc_net_tcp(theirs, ours))
}

/// How many bytes the TCP socket bound to `local` and connected to `remote`
/// holds unread, asked of Linux's socket-diagnostics netlink service for that
/// one socket: it costs microseconds, where `/proc/net/tcp` prints every
/// connection of the machine (half a second or more with tens of thousands).
/// `None` where netlink is missing or the socket is not found.
fn asked_of_the_kernel(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    use socket2::{Domain, Protocol, Socket, Type};
    const AF_NETLINK: i32 = 16;
    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    const IPPROTO_TCP: u8 = 6;
    // struct inet_diag_req_v2 after the 16-byte nlmsghdr: family, protocol,
    // extensions, padding, the states wanted, then the socket's identity:
    // ports and addresses in network order, interface, and "no cookie".
    let family: u8 = match local {
        SocketAddr::V4(_) => 2,
        SocketAddr::V6(_) => 10,
    };
    let address = |addr: SocketAddr| -> [u8; 16] {
        let mut bytes = [0u8; 16];
        match addr.ip() {
            IpAddr::V4(ip) => bytes[..4].copy_from_slice(&ip.octets()),
            IpAddr::V6(ip) => bytes.copy_from_slice(&ip.octets()),
        }
        bytes
    };
    let mut request = Vec::with_capacity(72);
    request.extend_from_slice(&72u32.to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    request.extend_from_slice(&[0u8; 8]); // sequence number and port id
    request.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    request.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    request.extend_from_slice(&local.port().to_be_bytes());
    request.extend_from_slice(&remote.port().to_be_bytes());
    request.extend_from_slice(&address(local));
    request.extend_from_slice(&address(remote));
    request.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    request.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
    let socket = Socket::new(
        Domain::from(AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(NETLINK_SOCK_DIAG)),
    )
    .ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    (&socket).write_all(&request).ok()?;
    let mut reply = [0u8; 512];
    let n = (&socket).read(&mut reply).ok()?;
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    // struct inet_diag_msg: 4 bytes, the 48-byte identity, expires, then
    // idiag_rqueue: for a connected socket, the bytes not read yet.
    const RQUEUE: usize = 16 + 4 + 48 + 4;
    if kind == NLMSG_ERROR || n < RQUEUE + 4 {
        return None;
    }
    let field = &reply[RQUEUE..RQUEUE + 4];
    Some(u64::from(u32::from_ne_bytes([
        field[0], field[1], field[2], field[3],
    ])))
}

/// The same count as [`asked_of_the_kernel`], found in the table of every
/// connection that Linux prints in `/proc/net/tcp`: slow, but readable
/// where netlink is not allowed.
fn read_in_proc_net_tcp(theirs: SocketAddr, ours: SocketAddr) -> Option<u64> {
    let table = match theirs {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    // Their socket's local address is our peer, and its remote address is us.
    let (local, remote) = (proc_address(theirs), proc_address(ours));
    text.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let (line_local, line_remote) = (fields.next()?, fields.next()?);
        if line_local != local || line_remote != remote {
            return None;
        }
        // After the state come `tx_queue:rx_queue`, in hexadecimal.
        let queues = fields.nth(1)?;
        u64::from_str_radix(queues.split(':').nth(1)?, 16).ok()
    })
}

/// An address as `/proc/net/tcp` writes it: the address's bytes read as
/// this machine's 32-bit words, in hexadecimal, then `:` and the port.
fn proc_address(addr: SocketAddr) -> String {
    let words: Vec<[u8; 4]> = match addr.ip() {
        IpAddr::V4(ip) => vec![ip.octets()],
        IpAddr::V6(ip) => ip
            .octets()
            .chunks_exact(4)
            .map(|word| [word[0], word[1], word[2], word[3]])
            .collect(),
    };
    let mut text: String = words
        .iter()
        .map(|word| format!("{:08X}", u32::from_ne_bytes(*word)))
        .collect();
    text.push_str(&format!(":{:04X}", addr.port()));
    text
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
    use std::path::Path;

    /// A client connected through a proxy that cuts as `recut` says, and
    /// the server's side of the same connection, reading with a timeout.
    fn proxied_pair(recut: Recut) -> (TcpStream, TcpStream) {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = server.local_addr().unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_addr = proxy.local_addr().unwrap();
        thread::spawn(move || serve(&proxy, target, recut));
        let client = TcpStream::connect(proxy_addr).unwrap();
        client.set_nodelay(true).unwrap();
        let (conn, _) = server.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (client, conn)
    }

    /// Starts a proxy in front of a server that records every read it makes.
    fn reads_through_proxy(cut: Cut, writes: &[&[u8]]) -> Vec<Vec<u8>> {
        let (mut client, mut conn) = proxied_pair(Recut {
            cut,
            max_chunk: 3,
            delay: Duration::from_millis(if cut == Cut::Merge { 50 } else { 1 }),
            cut_head: usize::MAX,
            seed: 7,
            log_errors: true,
        });
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
            cut_head: usize::MAX,
            seed: 7,
            log_errors: false,
        };
        let mut recorder = Recorder::default();
        write_in_pieces(
            bytes,
            0,
            &recut,
            &mut recorder,
            &mut XorShift(recut.seed),
            &|| {},
        )
        .unwrap();
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
    fn the_pieces_of_a_messages_start_are_read_alone_even_by_a_late_reader() {
        let (mut client, mut conn) = proxied_pair(Recut {
            cut: Cut::Random,
            max_chunk: 3,
            delay: Duration::from_millis(1),
            cut_head: usize::MAX,
            seed: 7,
            log_errors: true,
        });
        let message = b"a header that must not arrive whole";
        client.write_all(message).unwrap();
        // A reader that is always late: without the proxy's wait, every
        // piece would be in before its first read, and come out of it.
        let mut reads: Vec<Vec<u8>> = Vec::new();
        let mut buffer = [0u8; 1024];
        while reads.concat().len() < READ_ALONE {
            thread::sleep(Duration::from_millis(50));
            let n = conn.read(&mut buffer).unwrap();
            reads.push(buffer[..n].to_vec());
        }
        assert!(
            reads.iter().all(|read| (1..=3).contains(&read.len())),
            "{reads:?}"
        );
        assert!(message.starts_with(&reads.concat()));
    }

    #[test]
    fn only_the_head_of_each_message_is_cut() {
        if !Path::new("/proc/net/tcp").exists() {
            return; // without the waits, a late reader may merge the pieces
        }
        let (mut client, mut conn) = proxied_pair(Recut {
            cut: Cut::Bytes,
            max_chunk: 1,
            delay: Duration::from_millis(1),
            cut_head: 3,
            seed: 7,
            log_errors: true,
        });
        let reads_of = |message: &[u8], client: &mut TcpStream, conn: &mut TcpStream| {
            client.write_all(message).unwrap();
            let mut reads: Vec<Vec<u8>> = Vec::new();
            let mut buffer = [0u8; 64];
            while reads.concat().len() < message.len() {
                thread::sleep(Duration::from_millis(30));
                let n = conn.read(&mut buffer).unwrap();
                reads.push(buffer[..n].to_vec());
            }
            reads
        };
        assert_eq!(
            reads_of(b"abcdefgh", &mut client, &mut conn),
            [&b"a"[..], b"b", b"c", b"defgh"]
        );
        // The server answers: what the client sends next is a new message.
        conn.write_all(b"x").unwrap();
        let mut answer = [0u8; 1];
        client.read_exact(&mut answer).unwrap();
        assert_eq!(
            reads_of(b"ijklmnop", &mut client, &mut conn),
            [&b"i"[..], b"j", b"k", b"lmnop"]
        );
    }

    #[test]
    fn the_bytes_a_peer_has_not_read_can_be_seen_on_linux() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        writer.write_all(b"12345").unwrap();
        if !Path::new("/proc/net/tcp").exists() {
            assert_eq!(unread_by_peer(&writer), None);
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while unread_by_peer(&writer) != Some(5) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(unread_by_peer(&writer), Some(5));
        let mut got = [0u8; 5];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(unread_by_peer(&writer), Some(0));
    }

    /// Where Linux answers both ways, netlink and `/proc/net/tcp` count the
    /// same unread bytes, before the read and after it.
    #[test]
    fn netlink_and_the_proc_table_agree() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        let (theirs, ours) = (writer.peer_addr().unwrap(), writer.local_addr().unwrap());
        if read_in_proc_net_tcp(theirs, ours).is_none() {
            return; // not Linux, or no /proc: nothing to compare
        }
        writer.write_all(b"1234567").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while read_in_proc_net_tcp(theirs, ours) != Some(7) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(asked_of_the_kernel(theirs, ours), Some(7));
        let mut got = [0u8; 7];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(asked_of_the_kernel(theirs, ours), Some(0));
        assert_eq!(asked_of_the_kernel(ours, theirs), Some(0));
    }

    #[test]
    fn separate_writes_are_merged_into_one() {
        let reads = reads_through_proxy(Cut::Merge, &[b"one ", b"two ", b"three"]);
        assert_eq!(reads, vec![b"one two three".to_vec()]);
    }
}
