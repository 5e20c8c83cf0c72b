//! Two mistakes of the classic tutorials, shown by running code
//! (`lab05-byte-order` and `lab05-concat` print these).
//!
//! 1. They pack the header length with `struct.pack('i', n)`: four bytes in
//!    *this machine's* byte order. Two machines of different byte orders then
//!    disagree about every length.
//! 2. They gather a reply with `received += data` on Python `bytes`, which are
//!    immutable: each `+=` builds a new buffer and copies everything received
//!    so far, so the work grows with the square of the reply's size.

use std::time::{Duration, Instant};

use crate::frame::{self, FrameError};
use crate::protocol::{Reply, numbers};
use crate::reports::HELLO;

/// The four bytes of `length` as a human reads them: `2d 00 00 00`.
fn hex(bytes: [u8; 4]) -> String {
    bytes.map(|byte| format!("{byte:02x}")).join(" ")
}

// ANCHOR: byte_order
/// What happens to a real header's length prefix in native vs network order,
/// as lines of text.
pub fn byte_order_lines() -> Vec<String> {
    // A real header: the one the server sends with the `hello` report.
    let header = serde_json::to_vec(&Reply::ok(HELLO.as_bytes())).unwrap_or_default();
    let length = header.len() as u32;
    let native = length.to_ne_bytes(); // what struct.pack('i') sends
    let network = length.to_be_bytes(); // what struct.pack('!I') sends
    let this_machine = if cfg!(target_endian = "little") {
        "little-endian"
    } else {
        "big-endian"
    };
    // A machine of the other byte order reads the same 4 bytes backwards.
    let misread = u32::from_ne_bytes(native).swap_bytes();
    // And our reader, which always reads big-endian, given the native bytes:
    let mut wire = native.to_vec();
    wire.extend_from_slice(&header);
    let ours = match frame::read_header::<Reply>(&mut wire.as_slice()) {
        Ok(_) => "it reads the header fine (this machine is big-endian)".to_string(),
        Err(err @ FrameError::HeaderTooLarge { .. }) => format!("refused: {err}"),
        Err(err) => format!("error: {err}"),
    };
    vec![
        format!(
            "the reply header for hello is {length} bytes of JSON; the 4 bytes announcing that:"
        ),
        format!(
            "  this machine's order ({this_machine}), to_ne_bytes, struct.pack('i'):  {}",
            hex(native)
        ),
        format!(
            "  network order (big-endian), to_be_bytes, struct.pack('!I'):        {}",
            hex(network)
        ),
        format!(
            "a machine of the other byte order reads {} as {misread} bytes ({} MiB)",
            hex(native),
            misread / (1024 * 1024)
        ),
        format!("our reader, handed {} and the header: {ours}", hex(native)),
    ]
}
// ANCHOR_END: byte_order

/// Pieces of this size arrive one after another, like the tutorials'
/// `recv(1024)`.
pub const PIECE_SIZE: usize = 1024;

/// One way of gathering a reply that arrives piece by piece: the bytes
/// gathered and how many bytes were copied in memory on the way.
pub struct Gathered {
    /// The reply, put back together.
    pub bytes: Vec<u8>,
    /// Every byte memory-copied, including copying each piece in once.
    pub copied: u64,
}

// ANCHOR: gather
/// Gathers `reply` the way `received += piece` on Python `bytes` does: every
/// piece makes a brand-new buffer holding all the old bytes plus the new ones.
pub fn gather_by_concatenation(reply: &[u8]) -> Gathered {
    let mut received: Vec<u8> = Vec::new();
    let mut copied = 0;
    for piece in reply.chunks(PIECE_SIZE) {
        received = [received.as_slice(), piece].concat();
        copied += received.len() as u64;
    }
    Gathered {
        bytes: received,
        copied,
    }
}

/// Gathers `reply` into one growing `Vec`: a piece is copied in once, and
/// the old bytes move only when the vector doubles its capacity.
pub fn gather_by_extending(reply: &[u8]) -> Gathered {
    let mut received: Vec<u8> = Vec::new();
    let mut copied = 0;
    for piece in reply.chunks(PIECE_SIZE) {
        if received.len() + piece.len() > received.capacity() {
            // Growing may move the bytes already held (an upper bound: the
            // allocator can sometimes grow in place).
            copied += received.len() as u64;
        }
        received.extend_from_slice(piece);
        copied += piece.len() as u64;
    }
    Gathered {
        bytes: received,
        copied,
    }
}
// ANCHOR_END: gather

/// Both ways, timed on the same reply of `size` bytes.
pub struct Comparison {
    /// The reply's size in bytes.
    pub size: usize,
    /// Bytes copied by `+=`.
    pub concatenation_copied: u64,
    /// Time taken by `+=`.
    pub concatenation_time: Duration,
    /// Bytes copied by a growing `Vec`.
    pub extending_copied: u64,
    /// Time taken by a growing `Vec`.
    pub extending_time: Duration,
}

/// Gathers a `size`-byte reply both ways, checks both give the reply back
/// exactly, and times them.
///
/// Each way runs three times and keeps its fastest run: the first run of a
/// size also pays for the operating system handing out fresh memory, which
/// is noise here, not the cost we want to see.
pub fn compare(size: usize) -> Result<Comparison, String> {
    let reply = numbers(size as u64);
    let timed = |gather: fn(&[u8]) -> Gathered| -> Result<(u64, Duration), String> {
        let mut fastest = Duration::MAX;
        let mut copied = 0;
        for _ in 0..3 {
            let start = Instant::now();
            let gathered = gather(&reply);
            fastest = fastest.min(start.elapsed());
            if gathered.bytes != reply {
                return Err(format!("a {size}-byte reply was not gathered intact"));
            }
            copied = gathered.copied;
        }
        Ok((copied, fastest))
    };
    let (concatenation_copied, concatenation_time) = timed(gather_by_concatenation)?;
    let (extending_copied, extending_time) = timed(gather_by_extending)?;
    Ok(Comparison {
        size,
        concatenation_copied,
        concatenation_time,
        extending_copied,
        extending_time,
    })
}

/// The table `lab05-concat` prints: one row per size, doubling up to `up_to`.
pub fn concatenation_table(up_to: usize) -> Result<Vec<String>, String> {
    let mut lines = vec![
        format!(
            "a reply arriving in {PIECE_SIZE}-byte pieces, gathered two ways (fastest of 3 runs):"
        ),
        "    reply |   received += piece    |  received.extend(piece) |  += is"
            .to_string(),
        "     size |  MiB copied       time |  MiB copied        time |  slower"
            .to_string(),
    ];
    let mut size = 64 * 1024;
    while size <= up_to {
        let row = compare(size)?;
        let ratio = row.concatenation_time.as_secs_f64()
            / row.extending_time.as_secs_f64().max(1e-9);
        lines.push(format!(
            "{:>5} KiB | {:>11.1} {:>10} | {:>11.1} {:>11} | {:>6.0}x",
            size / 1024,
            mebibytes(row.concatenation_copied),
            milliseconds(row.concatenation_time),
            mebibytes(row.extending_copied),
            milliseconds(row.extending_time),
            ratio
        ));
        size *= 2;
    }
    Ok(lines)
}

/// Bytes in MiB, for a table that has to fit a terminal.
fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A time in milliseconds with two decimals: the fast column is often
/// well under one millisecond.
fn milliseconds(time: Duration) -> String {
    format!("{:.2} ms", time.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_copies_quadratically_and_extending_linearly() {
        // 256 pieces: += copies 1 + 2 + … + 256 pieces' worth.
        let reply = numbers(256 * PIECE_SIZE as u64);
        let pieces = 256u64;
        let by_concat = gather_by_concatenation(&reply);
        assert_eq!(by_concat.bytes, reply);
        assert_eq!(
            by_concat.copied,
            PIECE_SIZE as u64 * pieces * (pieces + 1) / 2
        );
        let by_extend = gather_by_extending(&reply);
        assert_eq!(by_extend.bytes, reply);
        assert!(
            by_extend.copied <= 2 * reply.len() as u64,
            "{}",
            by_extend.copied
        );
    }

    #[test]
    fn the_native_length_is_misread_and_refused() {
        let lines = byte_order_lines().join("\n");
        if cfg!(target_endian = "little") {
            assert!(
                lines.contains("refused: the frame announces a header of"),
                "{lines}"
            );
        }
        assert!(lines.contains("00 00 00 "), "{lines}");
    }
}
