//! What the frames of this lab carry: a request for a named report, and a
//! reply with the report's bytes and a checksum to verify them.
//!
//! Both headers are JSON objects with `body_size`, as [`crate::frame`]
//! requires; the other fields are this lab's own. The chapter's Protocol
//! section describes the same thing for readers writing another language.

use serde::{Deserialize, Serialize};

use crate::frame::Header;

/// The most request body the server reads into memory (only `echo` has one).
pub const MAX_REQUEST_BODY: u64 = 1024 * 1024;

/// The largest `numbers` report the server generates: 32 MiB.
///
/// A client may ask for any count, but the server decides what it is willing
/// to build in memory; a bigger count gets an error reply.
pub const MAX_NUMBERS: u64 = 32 * 1024 * 1024;

/// The most reply body the client reads into memory: room for the largest
/// report, and a bound on what a misbehaving server can make us allocate.
pub const MAX_REPLY_BODY: u64 = 64 * 1024 * 1024;

// ANCHOR: headers
/// The header of a request: which report the client wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The report's name, looked up in the server's fixed list; never run.
    pub report: String,
    /// How many bytes of data `numbers` should send back; other reports
    /// ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Bytes of request body after this header (what `echo` sends back).
    pub body_size: u64,
}

/// The header of a reply: how long the body is, its checksum, and, if the
/// server could not give the report, why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Bytes of report after this header (0 for an error).
    pub body_size: u64,
    /// CRC-32 of the body, so the client can check it arrived intact.
    pub crc32: u32,
    /// Present only when the request was refused: the reason, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
// ANCHOR_END: headers

impl Header for Request {
    fn body_size(&self) -> u64 {
        self.body_size
    }
}

impl Header for Reply {
    fn body_size(&self) -> u64 {
        self.body_size
    }
}

impl Reply {
    /// The header for a report's body: its size and its checksum.
    pub fn ok(body: &[u8]) -> Self {
        Reply {
            body_size: body.len() as u64,
            crc32: crc32(body),
            error: None,
        }
    }

    /// The header of an error reply: no body, just the reason.
    pub fn error(reason: impl Into<String>) -> Self {
        Reply {
            body_size: 0,
            crc32: crc32(b""),
            error: Some(reason.into()),
        }
    }
}

/// The lines `0\n1\n2\n…`, cut to exactly `count` bytes: the body of the
/// `numbers` report.
///
/// Data that both sides can generate lets the client compare a reply of
/// many megabytes byte for byte, not just its checksum; and, unlike a block
/// of zeros, a byte that arrives twice or goes missing shifts every line
/// after it, so the comparison cannot miss it.
pub fn numbers(count: u64) -> Vec<u8> {
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    let mut data = Vec::with_capacity(wanted);
    let mut next = 0u64;
    while data.len() < wanted {
        data.extend_from_slice(next.to_string().as_bytes());
        data.push(b'\n');
        next += 1;
    }
    data.truncate(wanted);
    data
}

/// The CRC-32 of `bytes` (the one in zip, PNG and Ethernet; Python's
/// `zlib.crc32`).
///
/// A checksum catches accidents: a byte lost, doubled or flipped on the way
/// or by a bug in our own framing. It does not stop an attacker, who can
/// change the data and the checksum together; lab 06 uses SHA-256 for that.
/// It is a dozen lines, so the lab needs no extra crate for it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc = CRC32_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

/// The CRC of every byte value, computed once at compile time, so that the
/// checksum costs one table lookup per byte instead of eight shifts.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut value = 0;
    while value < 256 {
        let mut crc = value as u32;
        let mut bit = 0;
        while bit < 8 {
            // 0xEDB88320 is the standard CRC-32 polynomial, bits reversed.
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[value] = crc;
        value += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_gives_the_standard_check_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn numbers_are_lines_cut_to_the_exact_count() {
        assert_eq!(numbers(0), b"");
        assert_eq!(numbers(5), b"0\n1\n2");
        assert_eq!(numbers(25), b"0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11");
        assert_eq!(numbers(1_000_000).len(), 1_000_000);
    }

    #[test]
    fn headers_leave_out_absent_fields_on_the_wire() {
        let request = Request {
            report: "hello".into(),
            count: None,
            body_size: 0,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"report":"hello","body_size":0}"#
        );
        assert_eq!(
            serde_json::to_string(&Reply::ok(b"hi")).unwrap(),
            r#"{"body_size":2,"crc32":3633523372}"#
        );
        assert_eq!(
            serde_json::to_string(&Reply::error("no")).unwrap(),
            r#"{"body_size":0,"crc32":0,"error":"no"}"#
        );
    }
}
