//! The framing's central promise, tested as a property: however the byte
//! stream is cut into reads (one byte at a time, at random, all at once),
//! the reader gets back exactly the frames that were written, and an end of
//! stream is clean exactly when it falls between two frames.
//!
//! TCP really does cut streams anywhere; a test over loopback rarely shows
//! it, so these tests cut the stream themselves, with a reader that hands
//! out the bytes in chosen pieces.

use std::io::{self, Read};

use lab05_framed_header::frame::{self, FrameError};
use lab05_framed_header::protocol::{Reply, Request, numbers};

/// A reader that returns `bytes` in pieces of the given sizes, in turn, the
/// way a socket returns whatever has arrived so far.
struct ChoppedReader<'a> {
    bytes: &'a [u8],
    piece_sizes: Box<dyn FnMut() -> usize + 'a>,
}

impl Read for ChoppedReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let wanted = (self.piece_sizes)().max(1);
        let n = wanted.min(buffer.len()).min(self.bytes.len());
        buffer[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// A tiny deterministic random generator (xorshift64): the same seed gives
/// the same cuts on every run, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The frames the tests send: bodies from empty to 300 KB, text and binary,
/// small and large headers, requests and replies alike.
fn sample_frames() -> Vec<(Request, Vec<u8>)> {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let bodies = [
        Vec::new(),
        b"x".to_vec(),
        b"\0\0\0\x04 looks like a length prefix".to_vec(),
        binary,
        Vec::new(),
        numbers(300_000),
        "caf\u{e9} \u{1f980}".as_bytes().to_vec(),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let request = Request {
                report: format!("frame {i} {}", "\"quoted\" ".repeat(i * 40)),
                count: (i % 2 == 0).then_some(i as u64),
                body_size: body.len() as u64,
            };
            (request, body)
        })
        .collect()
}

/// The frames, written one after another into one byte stream.
fn encode(frames: &[(Request, Vec<u8>)]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (request, body) in frames {
        frame::write_frame(&mut wire, request, body).expect("a frame encodes into a Vec");
    }
    wire
}

/// Reads frames until the clean end, failing on any error.
fn decode_all(reader: &mut impl Read) -> Vec<(Request, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Some(frame) =
        frame::read_frame::<Request>(reader, 1 << 20).expect("every frame decodes")
    {
        frames.push(frame);
    }
    frames
}

/// All at once, and one byte at a time: the same frames come out.
#[test]
fn frames_survive_being_read_all_at_once_or_one_byte_at_a_time() {
    let frames = sample_frames();
    let wire = encode(&frames);
    for piece in [usize::MAX, 1] {
        let mut reader = ChoppedReader {
            bytes: &wire,
            piece_sizes: Box::new(move || piece),
        };
        assert!(decode_all(&mut reader) == frames, "pieces of {piece} bytes");
    }
}

/// Random cuts, 200 different ways, with pieces from 1 byte to 8 KiB.
#[test]
fn frames_survive_random_cuts() {
    let frames = sample_frames();
    let wire = encode(&frames);
    for seed in 1..=200u64 {
        let mut random = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Mostly small pieces, now and then a big one, as a network does.
        let mut reader = ChoppedReader {
            bytes: &wire,
            piece_sizes: Box::new(move || match random.next() % 4 {
                0 => 1 + (random.next() % 8192) as usize,
                _ => 1 + (random.next() % 7) as usize,
            }),
        };
        assert!(decode_all(&mut reader) == frames, "seed {seed}");
    }
}

/// A stream that ends early gives back every complete frame, then a clean
/// end if the cut falls between frames, and `Truncated` if it falls inside one.
#[test]
fn an_early_end_is_clean_only_between_frames() {
    let frames = sample_frames();
    let wire = encode(&frames);
    // Where each frame ends in the stream.
    let mut boundaries = vec![0];
    for (request, body) in &frames {
        let mut one = Vec::new();
        frame::write_frame(&mut one, request, body).unwrap();
        boundaries.push(boundaries.last().unwrap() + one.len());
    }
    let mut random = XorShift(42);
    let mut cuts: Vec<usize> = (0..300)
        .map(|_| (random.next() % wire.len() as u64) as usize)
        .collect();
    cuts.extend(&boundaries);
    cuts.extend(boundaries.iter().skip(1).map(|end| end - 1));
    for cut in cuts {
        let mut reader = ChoppedReader {
            bytes: &wire[..cut],
            piece_sizes: Box::new(|| 1000),
        };
        let complete = boundaries
            .iter()
            .filter(|&&end| end > 0 && end <= cut)
            .count();
        for expected in &frames[..complete] {
            let got = frame::read_frame::<Request>(&mut reader, 1 << 20).unwrap();
            assert!(got.as_ref() == Some(expected), "cut at {cut}");
        }
        let end = frame::read_frame::<Request>(&mut reader, 1 << 20);
        if boundaries.contains(&cut) {
            assert!(
                matches!(end, Ok(None)),
                "cut at {cut} is between frames: {end:?}"
            );
        } else {
            assert!(
                matches!(end, Err(FrameError::Truncated { .. })),
                "cut at {cut} is inside a frame: {end:?}"
            );
        }
    }
}

/// Reading a header leaves the body unread, however the stream is cut, so a
/// caller can stream the body itself (as lab 06 does).
#[test]
fn read_header_stops_exactly_where_the_body_starts() {
    let body = numbers(5000);
    let mut wire = Vec::new();
    frame::write_frame(&mut wire, &Reply::ok(&body), &body).unwrap();
    for piece in [1, 3, 64, usize::MAX] {
        let mut reader = ChoppedReader {
            bytes: &wire,
            piece_sizes: Box::new(move || piece),
        };
        let header: Reply = frame::read_header(&mut reader).unwrap().unwrap();
        assert_eq!(header, Reply::ok(&body));
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert!(rest == body, "pieces of {piece}");
    }
}
