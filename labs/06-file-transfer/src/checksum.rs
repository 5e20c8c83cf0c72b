//! SHA-256, computed piece by piece as the bytes stream past.
//!
//! A file of 1 GiB is never in memory at once, so its checksum cannot be
//! computed from one big buffer either: the sender feeds each chunk to a
//! [`Checksum`] just before it goes on the wire, the receiver feeds each chunk
//! just after it arrives, and at the end both have the digest of exactly the
//! bytes that crossed.

use sha2::{Digest, Sha256};

/// A SHA-256 digest in progress.
///
/// Why SHA-256 and not the tutorials' MD5: anyone can make two different
/// files with the same MD5 in seconds, so an MD5 match proves nothing about
/// data an attacker could touch. No such pair is known for SHA-256.
#[derive(Debug, Default, Clone)]
pub struct Checksum {
    hasher: Sha256,
}

impl Checksum {
    /// An empty digest, ready for the first chunk.
    pub fn new() -> Self {
        Checksum::default()
    }

    /// Feeds the next chunk. Chunks may have any size: the digest of the
    /// whole stream is the same however it was cut.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    /// The digest of everything fed so far, as 64 lowercase hex digits, the
    /// form the protocol sends and `sha256sum` prints.
    pub fn finish(self) -> String {
        to_hex(&self.hasher.finalize())
    }
}

/// Writes bytes as lowercase hexadecimal, two digits per byte.
///
/// A few lines instead of a dependency: each byte is two 4-bit halves, and
/// each half picks one of sixteen digits.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> String {
        let mut checksum = Checksum::new();
        checksum.update(bytes);
        checksum.finish()
    }

    #[test]
    fn known_digests_match_sha256sum() {
        // `printf '' | sha256sum` and `printf abc | sha256sum`.
        assert_eq!(
            digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_digest_does_not_depend_on_how_the_stream_was_cut() {
        let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let mut pieces = Checksum::new();
        for chunk in data.chunks(7) {
            pieces.update(chunk);
        }
        assert_eq!(pieces.finish(), digest(&data));
    }

    #[test]
    fn hex_has_two_lowercase_digits_per_byte() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(to_hex(&[]), "");
    }
}
