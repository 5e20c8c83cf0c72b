//! Lab 05's frames, as the grader writes and reads them for labs 05 and 06.
//!
//! The grader has its own small implementation rather than the lab's, so
//! that a bug in the lab's framing cannot hide itself from its own checks.

use std::net::TcpStream;

use serde_json::Value;

use super::session::{Finding, Session, ShortRead, preview, read_exactly};

/// The largest body the grader reads: every check knows how much it asked for.
const MAX_BODY: u64 = 64 << 20;

/// One frame: the 4-byte big-endian header length, the JSON header, the body.
pub fn frame(header: &Value, body: &[u8]) -> Vec<u8> {
    let header = header.to_string().into_bytes();
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(body);
    bytes
}

/// Reads one frame: its header as JSON, and its body.
pub fn read_frame(session: &Session, stream: &mut TcpStream) -> Result<(Value, Vec<u8>), Finding> {
    let header = read_header(stream)?;
    let size = header["body_size"].as_u64().unwrap_or(0);
    if size > MAX_BODY {
        return Err(Finding::new(
            "a body the size the grader asked for",
            size.to_string(),
        ));
    }
    let body = read_exactly(stream, size as usize).map_err(short("body"))?;
    session.note(format!("got {header} and {} body bytes", body.len()));
    Ok((header, body))
}

/// What a frame cut short in `part` looks like in a finding.
fn short(part: &'static str) -> impl Fn(ShortRead) -> Finding {
    move |seen: ShortRead| {
        Finding::new(format!("a frame's {part}"), seen.to_string()).diagnosis(seen.diagnosis())
    }
}

/// Reads a frame's length prefix and JSON header, which must hold a numeric
/// `body_size`; the body is left to the caller.
pub fn read_header(stream: &mut TcpStream) -> Result<Value, Finding> {
    let prefix = read_exactly(stream, 4).map_err(short("length prefix"))?;
    let length = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if length == 0 || length > 65_536 {
        return Err(
            Finding::new("a header length from 1 to 65536", length.to_string())
                .diagnosis("is the length sent big-endian (network order, struct.pack(\"!I\"))?"),
        );
    }
    let header = read_exactly(stream, length as usize).map_err(short("header"))?;
    let header: Value = serde_json::from_slice(&header)
        .map_err(|err| Finding::new("a JSON header", format!("{err}: {:?}", preview(&header))))?;
    if header["body_size"].as_u64().is_none() {
        return Err(Finding::new(
            "a numeric body_size in the header",
            header.to_string(),
        ));
    }
    Ok(header)
}
