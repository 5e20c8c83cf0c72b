//! How the logs show bytes: how many, and a short preview between bars.

/// The most bytes of a write or a read that a log line shows.
///
/// A 10 000-byte message printed whole would bury every line around it. The
/// length says how big it is; the first bytes say which message it came from.
pub const PREVIEW_BYTES: usize = 32;

/// `5 bytes |hello|`, or `10000 bytes |aaaa…|` when there are more bytes than
/// the preview shows.
///
/// The bars mark exactly where the bytes of one write (or one read) begin and
/// end: the boundaries this lab is about. Control characters such as a
/// newline are escaped, so that one write or read stays on one log line.
pub fn shown(bytes: &[u8]) -> String {
    let preview_len = bytes.len().min(PREVIEW_BYTES);
    let mut preview = String::new();
    for c in String::from_utf8_lossy(&bytes[..preview_len]).chars() {
        if c.is_control() {
            preview.extend(c.escape_default());
        } else {
            preview.push(c);
        }
    }
    let more = if bytes.len() > preview_len { "…" } else { "" };
    format!("{} |{preview}{more}|", count(bytes.len() as u64, "byte"))
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
        assert_eq!(
            shown(&[b'a'; 10_000]),
            format!("10000 bytes |{}…|", "a".repeat(PREVIEW_BYTES))
        );
        assert_eq!(shown(b"one\ntwo\n"), "8 bytes |one\\ntwo\\n|");
    }
}
