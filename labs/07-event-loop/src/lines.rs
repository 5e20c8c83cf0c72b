//! The protocol's framing: lines that end in `\n`, each answered in capitals.
//!
//! Both engines (the mio loop and the tokio tasks) call [`answer_lines`] on
//! whatever bytes a read happened to bring: half a line, one line, or twenty.
//! It knows nothing about sockets, so it is the same for both, and easy to
//! test on its own.

/// The longest line served, in bytes, not counting its `\n`.
///
/// Without a cap, a client that never sends `\n` makes the server buffer
/// bytes until memory runs out. 64 KiB is far more than any line a person
/// types, and small enough that 10,000 clients could each fill it.
pub const MAX_LINE: usize = 64 * 1024;

/// The line the server sends before it closes a connection whose line was
/// longer than [`MAX_LINE`].
///
/// A reply to a real line is upper-cased, so it can never start with the
/// lower-case `error:`: a client can tell the two apart by their first bytes.
pub const TOO_LONG: &[u8] =
    b"error: line longer than 65536 bytes (hint: end each line with \\n; a line may hold at most 65536 bytes)\n";

/// The client sent a line longer than [`MAX_LINE`]; the connection must end.
#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong;

/// Answers every complete line in `incoming`, appending each reply to
/// `outgoing`, and leaves only the unfinished rest of a line in `incoming`.
///
/// Returns how many lines it answered. A read can end anywhere: in the
/// middle of a line (the rest stays buffered for the next read), or after
/// several lines (every one of them is answered now; a loop that answered
/// only the first would leave the others waiting for a read that may never
/// come).
///
/// On [`LineTooLong`], the replies to the lines before the long one are
/// already in `outgoing`, so they are still sent before the error line.
pub fn answer_lines(
    incoming: &mut Vec<u8>,
    outgoing: &mut Vec<u8>,
) -> Result<usize, LineTooLong> {
    // ANCHOR: answer_lines
    let mut start = 0;
    let mut answered = 0;
    while let Some(length) = incoming[start..].iter().position(|&byte| byte == b'\n') {
        if length > MAX_LINE {
            return Err(LineTooLong);
        }
        // The reply is the line itself, `\n` included, with a–z made A–Z;
        // every other byte (`\r`, UTF-8, anything) comes back unchanged.
        let reply_starts = outgoing.len();
        outgoing.extend_from_slice(&incoming[start..start + length + 1]);
        outgoing[reply_starts..].make_ascii_uppercase();
        start += length + 1;
        answered += 1;
    }
    // One move of the unfinished rest to the front, however many lines there were.
    incoming.drain(..start);
    if incoming.len() > MAX_LINE {
        return Err(LineTooLong);
    }
    Ok(answered)
    // ANCHOR_END: answer_lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: &[u8]) -> (Result<usize, LineTooLong>, Vec<u8>, Vec<u8>) {
        let mut incoming = bytes.to_vec();
        let mut outgoing = Vec::new();
        let result = answer_lines(&mut incoming, &mut outgoing);
        (result, outgoing, incoming)
    }

    #[test]
    fn two_lines_in_one_read_are_both_answered_and_a_half_line_waits() {
        let (result, outgoing, rest) = answer(b"hello\nworld\nhalf a li");
        assert_eq!(result, Ok(2));
        assert_eq!(outgoing, b"HELLO\nWORLD\n");
        assert_eq!(rest, b"half a li");
    }

    #[test]
    fn a_line_split_across_reads_is_answered_once_it_is_complete() {
        let mut incoming = b"spl".to_vec();
        let mut outgoing = Vec::new();
        assert_eq!(answer_lines(&mut incoming, &mut outgoing), Ok(0));
        incoming.extend_from_slice(b"it\n");
        assert_eq!(answer_lines(&mut incoming, &mut outgoing), Ok(1));
        assert_eq!(outgoing, b"SPLIT\n");
        assert!(incoming.is_empty());
    }

    #[test]
    fn only_ascii_letters_change_and_carriage_returns_and_utf8_stay() {
        let (_, outgoing, _) = answer("café ß\r\n\n".as_bytes());
        assert_eq!(outgoing, "CAFé ß\r\n\n".as_bytes());
    }

    #[test]
    fn a_line_of_exactly_the_maximum_is_served_and_one_byte_more_is_not() {
        let mut longest = vec![b'a'; MAX_LINE];
        longest.push(b'\n');
        let (result, outgoing, _) = answer(&longest);
        assert_eq!(result, Ok(1));
        assert_eq!(outgoing.len(), MAX_LINE + 1);

        let mut too_long = b"first\n".to_vec();
        too_long.extend(vec![b'a'; MAX_LINE + 1]);
        let (result, outgoing, _) = answer(&too_long);
        assert_eq!(result, Err(LineTooLong));
        assert_eq!(outgoing, b"FIRST\n", "the line before it is still answered");

        too_long.push(b'\n');
        assert_eq!(answer(&too_long).0, Err(LineTooLong));
    }

    #[test]
    fn the_error_line_is_one_line_that_no_reply_can_look_like() {
        assert!(TOO_LONG.starts_with(b"error: "));
        assert_eq!(TOO_LONG.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(TOO_LONG.ends_with(b"\n"));
    }
}
