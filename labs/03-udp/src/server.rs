//! The server side: one socket, one loop, one datagram at a time.

use std::net::UdpSocket;

use shared::failure::describe;

use crate::MAX_DATAGRAM_IPV6;

/// How the server treats datagrams.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The most bytes of one datagram the server keeps; the rest of a longer
    /// datagram is cut off by the kernel and lost.
    pub buffer_size: usize,
    /// Pretend every Nth datagram was lost on the way (0: lose none), so the
    /// client's timeout and retry can be seen on a network that never loses.
    pub drop_every: u64,
}

impl Settings {
    /// Whether datagram number `received` (counted from 1) is one that
    /// `--drop-every` says to pretend was lost.
    fn pretends_lost(&self, received: u64) -> bool {
        self.drop_every > 0 && received % self.drop_every == 0
    }
}

impl Default for Settings {
    /// Room for the largest datagram there is, and no pretend loss.
    fn default() -> Self {
        Settings {
            buffer_size: MAX_DATAGRAM_IPV6,
            drop_every: 0,
        }
    }
}

/// A datagram as text for the log, shortened past 60 characters: a 64 KB
/// datagram on one log line helps nobody.
fn preview(datagram: &[u8]) -> String {
    let text = String::from_utf8_lossy(datagram);
    if text.chars().count() <= 60 {
        format!("{text:?}")
    } else {
        let start: String = text.chars().take(60).collect();
        format!("{start:?}…")
    }
}

/// Answers each datagram in capitals, to whoever sent it, until stopped.
pub fn serve(socket: &UdpSocket, settings: &Settings) {
    // STARTER: loop: recv_from one datagram, send_to its sender in capitals; honour buffer_size and drop_every
    // One byte more than we keep: if a datagram fills that extra byte, it
    // was longer than `buffer_size`, and we can say it was cut. (The kernel
    // never tells us by how much; the extra bytes are simply discarded.)
    let mut buffer = vec![0u8; settings.buffer_size + 1];
    let mut received: u64 = 0;
    // ANCHOR: datagram_loop
    loop {
        // No accept, no connection: each `recv_from` returns one whole
        // datagram and the address it came from, which is where the reply goes.
        let (n, sender) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(err) => {
                eprintln!("could not receive a datagram: {}", describe(&err));
                continue;
            }
        };
        received += 1;
        let kept = n.min(settings.buffer_size);
        let datagram = &buffer[..kept];
        if n > settings.buffer_size {
            eprintln!(
                "{sender}: datagram #{received} was longer than the {}-byte \
                 buffer: kept {kept} bytes, the rest is lost",
                settings.buffer_size
            );
        } else {
            eprintln!(
                "{sender}: datagram #{received}, {n} bytes: {}",
                preview(datagram)
            );
        }
        if settings.pretends_lost(received) {
            eprintln!(
                "{sender}: dropping datagram #{received} on purpose (pretend it was lost)"
            );
            continue;
        }
        if let Err(err) = socket.send_to(&datagram.to_ascii_uppercase(), sender) {
            eprintln!("{sender}: could not send the reply: {}", describe(&err));
        }
    }
    // ANCHOR_END: datagram_loop
    // STARTER_END
}
