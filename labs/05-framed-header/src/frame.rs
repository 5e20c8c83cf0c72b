//! One frame on a TCP stream: a length prefix, a JSON header, a raw body.
//!
//! ```text
//! +----------------------+---------------------------+---------------------------+
//! | header length: u32   | header: UTF-8 JSON object | body: header.body_size    |
//! | 4 bytes, big-endian  | exactly "header length"   | raw bytes (may be 0)      |
//! +----------------------+---------------------------+---------------------------+
//! ```
//!
//! TCP delivers a stream of bytes, not messages: one `read` may return half a
//! frame, or the end of one frame and the start of the next. So the reader
//! never guesses. It reads exactly 4 bytes, learns how long the header is,
//! reads exactly that many, learns from the header how long the body is, and
//! reads exactly that many. Each "exactly" is a loop over `read`.
//!
//! Every length a peer sends is a claim, not a fact: it is checked against a
//! limit *before* anything is allocated, and a body buffer grows only as bytes
//! really arrive, so a lying peer costs us what it sends, not what it claims.
//!
//! Lab 05 reads whole frames with [`read_frame`]; lab 06 reads the header with
//! [`read_header`] and then streams the body itself in bounded pieces.

use std::fmt;
use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::failure::describe;
use shared::pace::{TooSlow, too_slow};
use shared::text::printable;

/// The largest header we accept or send: 64 KiB, 65536 bytes, as the
/// Protocol writes it.
///
/// A header holds a handful of fields, a few hundred bytes at most. The cap
/// means a peer (or a stray program speaking another protocol) cannot make us
/// allocate up to 4 GiB by sending four bytes.
pub const MAX_HEADER_SIZE: u32 = 65_536;

/// Bodies up to this size are sent in the same `write` as their header.
///
/// Two small writes in a row are the classic trigger of Nagle's algorithm
/// meeting the peer's delayed ACK: the second write can wait up to ~40 ms.
/// Copying a small body next to its header costs nothing by comparison; a
/// large body fills whole TCP segments anyway and is written on its own.
const COALESCE_LIMIT: usize = 16 * 1024;

/// Everything that can go wrong reading or writing a frame.
#[derive(Debug)]
pub enum FrameError {
    /// The connection failed: reset by the peer, a timeout, a broken pipe…
    Io(io::Error),
    /// The stream ended in the middle of a frame. `part` is `"length prefix"`,
    /// `"header"` or `"body"`; `received` of `expected` bytes had arrived.
    Truncated {
        /// Which part of the frame was cut short.
        part: &'static str,
        /// How many bytes that part should have had.
        expected: u64,
        /// How many bytes of it arrived before the end of the stream.
        received: u64,
    },
    /// The peer announced a header longer than [`MAX_HEADER_SIZE`]; nothing
    /// was allocated for it.
    HeaderTooLarge {
        /// The header length the peer claimed.
        size: u32,
    },
    /// The header is not a JSON object with the fields we expect (the text is
    /// serde's explanation, with line and column).
    BadHeader(String),
    /// The frame came, but too slowly: the reader's deadline for it (see
    /// `shared::pace`) passed before its last byte.
    TooSlow(TooSlow),
    /// The header announced a body larger than the caller's limit; nothing was
    /// allocated for it.
    BodyTooLarge {
        /// The body size the header claimed.
        size: u64,
        /// The most this side accepts.
        limit: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Io(err) => write!(f, "the connection failed: {}", describe(err)),
            FrameError::Truncated {
                part,
                expected,
                received,
            } => write!(
                f,
                "the connection ended in the middle of a frame: the {part} should have \
                 {expected} bytes but only {received} arrived"
            ),
            FrameError::HeaderTooLarge { size } => write!(
                f,
                "the frame announces a header of {size} bytes, more than the \
                 {MAX_HEADER_SIZE} bytes allowed (is the peer speaking this protocol?)"
            ),
            FrameError::BadHeader(reason) => {
                write!(f, "the frame's header is not valid: {reason}")
            }
            FrameError::TooSlow(slow) => write!(f, "the frame came too slowly: {slow}"),
            FrameError::BodyTooLarge { size, limit } => write!(
                f,
                "the frame announces a body of {size} bytes, more than the {limit} bytes accepted"
            ),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        // A deadline that passed is the peer's pace, not a failed connection.
        match too_slow(&err) {
            Some(slow) => FrameError::TooSlow(slow.clone()),
            None => FrameError::Io(err),
        }
    }
}

/// A header says how long the body after it is.
///
/// Each lab defines its own header struct (with serde's derives) and its own
/// fields; the one field every header has is the body's size, because the
/// reader cannot find the end of the body any other way.
pub trait Header: Serialize + DeserializeOwned {
    /// How many bytes of body follow this header on the wire.
    fn body_size(&self) -> u64;
}

/// The length prefix and the JSON header, ready to write, with room to spare.
fn encode_header<H: Header>(header: &H, spare: usize) -> Result<Vec<u8>, FrameError> {
    // ANCHOR: encode_header
    // Reserve the 4 prefix bytes first, serialise the JSON after them, then
    // fill in the prefix once we know how long the JSON turned out to be.
    let mut buffer = Vec::with_capacity(256 + spare);
    buffer.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut buffer, header)
        .map_err(|err| FrameError::BadHeader(err.to_string()))?;
    let json_len = buffer.len() - 4;
    let size = u32::try_from(json_len)
        .ok()
        .filter(|&size| size <= MAX_HEADER_SIZE)
        .ok_or(FrameError::HeaderTooLarge {
            size: u32::try_from(json_len).unwrap_or(u32::MAX),
        })?;
    // Network byte order is big-endian: the most significant byte goes
    // first, whatever the CPU that runs this code uses inside.
    buffer[..4].copy_from_slice(&size.to_be_bytes());
    // ANCHOR_END: encode_header
    Ok(buffer)
}

/// Writes the length prefix and the JSON header, but not the body.
///
/// Both go out in ONE `write_all` of one buffer, so a small frame is not split
/// into tiny writes that Nagle's algorithm and delayed ACKs would slow down.
/// `write_all`, not `write`: a single `write` may accept only part of the
/// buffer, and the rest would silently never be sent.
pub fn write_header<H: Header>(
    writer: &mut impl Write,
    header: &H,
) -> Result<(), FrameError> {
    // STARTER: encode the prefix and header with encode_header, and send them in one write_all
    let buffer = encode_header(header, 0)?;
    writer.write_all(&buffer)?;
    Ok(())
    // STARTER_END
}

/// Writes a whole frame: prefix, header, body.
///
/// `body.len()` must equal `header.body_size()`: a header that lies about its
/// body would desynchronise the peer for the rest of the connection, so a
/// mismatch is refused (as `FrameError::Io` with `InvalidInput`) before any
/// byte is written.
pub fn write_frame<H: Header>(
    writer: &mut impl Write,
    header: &H,
    body: &[u8],
) -> Result<(), FrameError> {
    if u64::try_from(body.len()).ok() != Some(header.body_size()) {
        return Err(FrameError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the header says the body has {} bytes, but it has {}",
                header.body_size(),
                body.len()
            ),
        )));
    }
    // ANCHOR: write_frame
    if body.len() <= COALESCE_LIMIT {
        // Small frame: one buffer, one write (see COALESCE_LIMIT).
        let mut buffer = encode_header(header, body.len())?;
        buffer.extend_from_slice(body);
        writer.write_all(&buffer)?;
    } else {
        // Large body: no point copying megabytes just to glue them to a
        // header; write it straight from where it is.
        write_header(writer, header)?;
        writer.write_all(body)?;
    }
    // ANCHOR_END: write_frame
    Ok(())
}

/// Fills `buffer` from `reader`, looping over short reads; returns how many
/// bytes it got, which is less than `buffer.len()` only if the stream ended.
///
/// This is `read_exact`, except that at the end of the stream it tells us how
/// far it got: 0 bytes means the peer closed cleanly between frames, anything
/// else means the frame was cut.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    // ANCHOR: read_full
    let mut filled = 0;
    while filled < buffer.len() {
        // One read returns whatever has arrived so far: maybe 1 byte, maybe
        // all of them. Ask only for what is still missing.
        match reader.read(&mut buffer[filled..]) {
            // 0 bytes: the peer closed its side; no more will ever come.
            Ok(0) => break,
            Ok(n) => filled += n,
            // A signal interrupted the wait before any byte came: try again.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    // ANCHOR_END: read_full
    Ok(filled)
}

/// Turns a short count from [`read_full`] into the right error.
fn check_complete(
    part: &'static str,
    expected: usize,
    received: usize,
) -> Result<(), FrameError> {
    if received < expected {
        return Err(FrameError::Truncated {
            part,
            expected: expected as u64,
            received: received as u64,
        });
    }
    Ok(())
}

/// Reads one header.
///
/// `Ok(None)` means the peer closed cleanly BETWEEN frames (not a single byte
/// of a new frame came): the normal end of a conversation. An end of stream
/// after 1 to 3 prefix bytes, or inside the header, is
/// [`FrameError::Truncated`]. The claimed length is checked against
/// [`MAX_HEADER_SIZE`] before anything is allocated for it.
pub fn read_header<H: Header>(reader: &mut impl Read) -> Result<Option<H>, FrameError> {
    // STARTER: read the 4-byte big-endian length with read_full, check it, read the JSON, parse_header it
    // ANCHOR: read_header
    let mut prefix = [0u8; 4];
    let received = read_full(reader, &mut prefix)?;
    if received == 0 {
        return Ok(None);
    }
    check_complete("length prefix", prefix.len(), received)?;
    let size = u32::from_be_bytes(prefix);
    // Check the claim BEFORE allocating: four hostile bytes must not make us
    // reserve 4 GiB.
    if size > MAX_HEADER_SIZE {
        return Err(FrameError::HeaderTooLarge { size });
    }
    let mut json = vec![0u8; size as usize];
    let received = read_full(reader, &mut json)?;
    check_complete("header", json.len(), received)?;
    // ANCHOR_END: read_header
    parse_header(&json).map(Some)
    // STARTER_END
}

/// Parses a header, insisting on a JSON object.
///
/// serde would also accept a JSON array for a struct (fields by position);
/// the protocol says "object", so anything else is refused here, which also
/// covers the empty header of length 0.
fn parse_header<H: Header>(json: &[u8]) -> Result<H, FrameError> {
    if json.trim_ascii_start().first() != Some(&b'{') {
        let start = String::from_utf8_lossy(&json[..json.len().min(20)]).into_owned();
        return Err(FrameError::BadHeader(format!(
            "expected a JSON object starting with '{{', got {start:?}"
        )));
    }
    // serde quotes some of what the peer sent as it came (an unknown value
    // of a field that has a fixed list, such as lab 06's `status`), and the
    // reason ends up in a log or on a user's terminal: shown, never obeyed.
    serde_json::from_slice(json)
        .map_err(|err| FrameError::BadHeader(printable(&err.to_string())))
}

/// Reads a body of `size` bytes into memory.
///
/// A size above `limit` is refused before anything is allocated. Below it,
/// the buffer still grows only as bytes really arrive: a peer that claims
/// 1 GiB and sends 3 bytes costs us 3 bytes (and a `Truncated` error), not
/// a 1 GiB allocation.
pub fn read_body(
    reader: &mut impl Read,
    size: u64,
    limit: u64,
) -> Result<Vec<u8>, FrameError> {
    // STARTER: refuse a size over limit, then read exactly size bytes, growing the buffer as they arrive
    // ANCHOR: read_body
    if size > limit {
        return Err(FrameError::BodyTooLarge { size, limit });
    }
    // `take(size)` stops after exactly `size` bytes, so we can never read
    // into the next frame; `read_to_end` loops over short reads and grows
    // the vector step by step as data comes in, never to the claimed size
    // up front.
    let mut body = Vec::new();
    reader.by_ref().take(size).read_to_end(&mut body)?;
    let received = body.len() as u64;
    if received < size {
        return Err(FrameError::Truncated {
            part: "body",
            expected: size,
            received,
        });
    }
    // ANCHOR_END: read_body
    Ok(body)
    // STARTER_END
}

/// Reads one whole frame: [`read_header`], then [`read_body`] with the size
/// the header gives and the caller's `body_limit`.
///
/// `Ok(None)` is a clean end of the conversation between frames.
pub fn read_frame<H: Header>(
    reader: &mut impl Read,
    body_limit: u64,
) -> Result<Option<(H, Vec<u8>)>, FrameError> {
    let Some(header) = read_header::<H>(reader)? else {
        return Ok(None);
    };
    let body = read_body(reader, header.body_size(), body_limit)?;
    Ok(Some((header, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A header with one field of its own beside the size.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        body_size: u64,
        title: String,
    }

    impl Header for Note {
        fn body_size(&self) -> u64 {
            self.body_size
        }
    }

    fn note(title: &str, body: &[u8]) -> Note {
        Note {
            body_size: body.len() as u64,
            title: title.to_string(),
        }
    }

    fn encoded(title: &str, body: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        write_frame(&mut wire, &note(title, body), body).unwrap();
        wire
    }

    /// A frame on the wire with a hand-written header, to test what a peer
    /// that is not us might send.
    fn raw_frame(header: &str, body: &[u8]) -> Vec<u8> {
        let mut wire = (header.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(header.as_bytes());
        wire.extend_from_slice(body);
        wire
    }

    #[test]
    fn a_frame_is_a_big_endian_length_then_the_json_then_the_body() {
        let wire = encoded("hi", b"abc");
        let json = br#"{"body_size":3,"title":"hi"}"#;
        let mut expected = vec![0, 0, 0, json.len() as u8];
        expected.extend_from_slice(json);
        expected.extend_from_slice(b"abc");
        assert_eq!(wire, expected);
    }

    #[test]
    fn frames_read_back_in_order_and_then_a_clean_end() {
        let mut wire = encoded("first", b"");
        wire.extend(encoded("second", &[0, 255, 10, 13]));
        let big = vec![7u8; COALESCE_LIMIT * 3];
        wire.extend(encoded("third", &big));
        let mut reader = wire.as_slice();
        let (header, body) = read_frame::<Note>(&mut reader, 1 << 20).unwrap().unwrap();
        assert_eq!(
            (header.title.as_str(), body.as_slice()),
            ("first", &b""[..])
        );
        let (header, body) = read_frame::<Note>(&mut reader, 1 << 20).unwrap().unwrap();
        assert_eq!(header, note("second", &body));
        assert_eq!(body, [0, 255, 10, 13]);
        let (header, body) = read_frame::<Note>(&mut reader, 1 << 20).unwrap().unwrap();
        assert_eq!((header.title.as_str(), body), ("third", big));
        assert!(read_frame::<Note>(&mut reader, 1 << 20).unwrap().is_none());
    }

    #[test]
    fn an_end_inside_any_part_of_a_frame_is_truncated_not_a_clean_end() {
        let wire = encoded("cut", b"0123456789");
        let header_len = wire.len() - 4 - 10;
        let cases = [
            (2, "length prefix", 4, 2),
            (4 + 5, "header", header_len as u64, 5),
            (wire.len() - 3, "body", 10, 7),
        ];
        for (keep, part, expected, received) in cases {
            let err = read_frame::<Note>(&mut &wire[..keep], 100).unwrap_err();
            match err {
                FrameError::Truncated {
                    part: p,
                    expected: e,
                    received: r,
                } => assert_eq!((p, e, r), (part, expected, received)),
                other => panic!("cut at {keep}: expected Truncated, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_huge_header_length_is_refused_before_reading_it() {
        let wire = [0xFF, 0xFF, 0xFF, 0xFF, b'{'];
        let err = read_header::<Note>(&mut &wire[..]).unwrap_err();
        assert!(matches!(err, FrameError::HeaderTooLarge { size: u32::MAX }));
        assert!(err.to_string().contains("4294967295 bytes"), "{err}");
        // One byte over the cap is refused; the cap itself is a length we read.
        let over = (MAX_HEADER_SIZE + 1).to_be_bytes();
        assert!(matches!(
            read_header::<Note>(&mut &over[..]),
            Err(FrameError::HeaderTooLarge { size }) if size == MAX_HEADER_SIZE + 1
        ));
        let at_cap = MAX_HEADER_SIZE.to_be_bytes();
        assert!(matches!(
            read_header::<Note>(&mut &at_cap[..]),
            Err(FrameError::Truncated { part: "header", .. })
        ));
    }

    #[test]
    fn headers_that_are_not_the_expected_json_object_are_bad_headers() {
        for header in [
            "",
            "not json",
            "[3, \"array\"]",
            r#"{"title":"no size"}"#,
            r#"{"body_size":-1,"title":"x"}"#,
            r#"{"body_size":1,"title":"unfinished"#,
        ] {
            let wire = raw_frame(header, b"");
            match read_frame::<Note>(&mut wire.as_slice(), 100) {
                Err(FrameError::BadHeader(reason)) => assert!(!reason.is_empty()),
                other => panic!("{header:?}: expected BadHeader, got {other:?}"),
            }
        }
        let wire = raw_frame(r#"{"title":"t"}"#, b"");
        let err = read_frame::<Note>(&mut wire.as_slice(), 100).unwrap_err();
        assert!(
            err.to_string().contains("missing field `body_size`"),
            "{err}"
        );
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let wire = encoded("big", &[1; 101]);
        let err = read_frame::<Note>(&mut wire.as_slice(), 100).unwrap_err();
        assert!(matches!(
            err,
            FrameError::BodyTooLarge {
                size: 101,
                limit: 100
            }
        ));
        assert!(
            read_frame::<Note>(&mut encoded("fits", &[1; 100]).as_slice(), 100).is_ok()
        );
    }

    #[test]
    fn a_claimed_size_is_not_allocated_before_the_bytes_arrive() {
        // 4 EiB cannot be allocated: a reader that reserved the claimed size
        // up front would abort this test instead of reporting Truncated.
        let claimed = 1u64 << 62;
        let err = read_body(&mut &b"abc"[..], claimed, u64::MAX).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated { part: "body", expected, received: 3 } if expected == claimed
        ));
    }

    #[test]
    fn a_body_that_disagrees_with_its_header_is_not_written() {
        let mut wire = Vec::new();
        let err = write_frame(&mut wire, &note("liar", b"four"), b"five!").unwrap_err();
        assert!(
            matches!(&err, FrameError::Io(io) if io.kind() == io::ErrorKind::InvalidInput),
            "{err:?}"
        );
        assert!(wire.is_empty());
    }

    #[test]
    fn a_header_over_the_cap_is_not_written() {
        let title = "x".repeat(MAX_HEADER_SIZE as usize);
        let mut wire = Vec::new();
        let err = write_header(&mut wire, &note(&title, b"")).unwrap_err();
        assert!(matches!(err, FrameError::HeaderTooLarge { .. }), "{err:?}");
        assert!(wire.is_empty());
    }

    #[test]
    fn write_header_leaves_the_body_to_the_caller() {
        let mut wire = Vec::new();
        write_header(&mut wire, &note("streamed", b"xyz")).unwrap();
        wire.extend_from_slice(b"xyz");
        assert_eq!(wire, encoded("streamed", b"xyz"));
        let mut reader = wire.as_slice();
        let header: Note = read_header(&mut reader).unwrap().unwrap();
        assert_eq!(header.body_size(), 3);
        assert_eq!(reader, b"xyz", "read_header leaves the body unread");
    }
}
