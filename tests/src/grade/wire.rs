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

/// The longest header the Protocol sections allow.
const MAX_HEADER: u32 = 65_536;

/// What is wrong with a frame's 4-byte length prefix, shown read both ways,
/// or `None` if it reads as a header length (1 to 65536, big-endian).
pub fn bad_length(prefix: [u8; 4]) -> Option<Finding> {
    let big = u32::from_be_bytes(prefix);
    if (1..=MAX_HEADER).contains(&big) {
        return None;
    }
    let little = u32::from_le_bytes(prefix);
    let finding = Finding::new(
        "a header length from 1 to 65536, big-endian",
        format!("the 4 bytes {prefix:02x?}: {big} read big-endian, {little} read little-endian"),
    );
    Some(if (1..=MAX_HEADER).contains(&little) {
        finding.diagnosis(
            "the length was sent little-endian (the machine's own order): send it big-endian, \
             in network order (Python: struct.pack(\"!I\", n); Rust: u32::to_be_bytes)",
        )
    } else if prefix[0] == b'{' {
        finding
            .diagnosis("the frame starts with its JSON header: the 4-byte length must come first")
    } else {
        finding.diagnosis(
            "these bytes are no header length in either byte order: is each frame sent whole, \
             its length first?",
        )
    })
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
    let prefix = [prefix[0], prefix[1], prefix[2], prefix[3]];
    if let Some(finding) = bad_length(prefix) {
        return Err(finding);
    }
    let length = u32::from_be_bytes(prefix);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_little_endian_length_is_shown_both_ways_and_named() {
        let finding = bad_length(37u32.to_le_bytes()).expect("37 little-endian is no length");
        assert!(
            finding
                .seen
                .contains("620756992 read big-endian, 37 read little-endian")
        );
        assert!(
            finding
                .diagnosis
                .is_some_and(|d| d.contains("little-endian"))
        );
        assert!(bad_length(37u32.to_be_bytes()).is_none());
    }

    #[test]
    fn a_frame_read_from_a_socket_with_a_swapped_length_says_so() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = listener.local_addr().expect("its address");
        let peer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("a connection");
            let header = br#"{"body_size":0}"#;
            let mut bytes = (header.len() as u32).to_le_bytes().to_vec();
            bytes.extend_from_slice(header);
            conn.write_all(&bytes).expect("sent");
        });
        let mut stream = TcpStream::connect(addr).expect("connected");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("a timeout");
        let finding = read_frame(&Session::detached(), &mut stream).expect_err("a bad frame");
        peer.join().expect("the peer wrote");
        assert!(
            finding.seen.contains("15 read little-endian"),
            "{finding:?}"
        );
        assert!(finding.diagnosis.is_some_and(|d| d.contains("big-endian")));
    }
}
