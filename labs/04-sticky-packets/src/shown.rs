//! How the logs show bytes: how many, and a short preview between bars.

use shared::text::printable_bytes;

/// The most bytes of a write or a read that a log line shows.
///
/// A 10 000-byte message printed whole would bury every line around it. The
/// length says how big it is; its first and last bytes say which messages
/// it began and ended in.
pub const PREVIEW_BYTES: usize = 32;

/// `5 bytes |hello|`, or `2000 bytes |aaaaaaaaaaaaaaaa…bbbbbbbbbbbbbbbb|`
/// (the first and the last 16 bytes) when there are more bytes than the
/// preview shows.
///
/// The bars mark exactly where the bytes of one write (or one read) begin and
/// end: the boundaries this lab is about. Control characters such as a
/// newline are escaped, so that one write or read stays on one log line.
pub fn shown(bytes: &[u8]) -> String {
    let preview = if bytes.len() <= PREVIEW_BYTES {
        printable_bytes(bytes)
    } else {
        let half = PREVIEW_BYTES / 2;
        format!(
            "{}…{}",
            printable_bytes(&bytes[..half]),
            printable_bytes(&bytes[bytes.len() - half..])
        )
    };
    format!("{} |{preview}|", count(bytes.len() as u64, "byte"))
}

/// `1 read`, `5 reads`: a number with its noun, singular or plural.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bytes_are_shown_whole_between_bars() {
        assert_eq!(shown(b"hello"), "5 bytes |hello|");
        assert_eq!(shown(b"x"), "1 byte |x|");
    }

    #[test]
    fn long_bytes_are_cut_and_newlines_escaped() {
        let mut two_messages = vec![b'a'; 700];
        two_messages.extend([b'b'; 300]);
        assert_eq!(
            shown(&two_messages),
            "1000 bytes |aaaaaaaaaaaaaaaa…bbbbbbbbbbbbbbbb|"
        );
        assert_eq!(shown(b"one\ntwo\n"), "8 bytes |one\\ntwo\\n|");
    }
}
