//! What the frames of this lab carry, and how a file's bytes stream through.
//!
//! Every message is one of lab 05's frames: a 4-byte big-endian length, a
//! JSON header, a body of `body_size` bytes. The headers below are this
//! lab's; the chapter's Protocol section describes the same in words, for
//! anyone writing a compatible program in another language.
//!
//! A file travels as a body that is never held in memory whole: the sender
//! reads 256 KiB from the file, hashes it, writes it to the socket, and
//! again; the receiver reads up to 256 KiB from the socket, hashes it, writes
//! it to a temporary file, and again. After the body comes a small *trailer* frame
//! with the SHA-256 of the bytes that were sent.
//!
//! ```text
//!  sender                                         receiver
//!  ------                                         --------
//!  header {"body_size": N, ...}     ---------->   N is known: read exactly N bytes
//!  body: N bytes, 256 KiB at a time ---------->   hash + write each piece
//!  trailer {"sha256": "…", "body_size": 0} --->   compare: keep the file or drop it
//! ```

use std::io::{self, Read, Write};

use lab05_framed_header::frame::{self, FrameError, Header};
use serde::{Deserialize, Serialize};
use shared::text::printable;

use crate::checksum::Checksum;
use crate::partial::{CommitError, PartialFile};

/// How many bytes of a file are in memory at once, on either side.
///
/// Measured, not guessed: on the machine the chapter's figures come from,
/// a `put` of 1 GiB took about 1.55 s with 256 KiB pieces and 1.9 s with
/// 64 KiB ones (fewer system calls per byte), and 1 MiB pieces were not
/// clearly faster. A quarter of a mebibyte per transfer is still nothing
/// next to the file.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// The buffer in front of the socket that gathers a small reply's pieces
/// (header, body, trailer) into one write: 8 KiB. Pieces as large as a
/// whole [`CHUNK_SIZE`] go straight through it.
pub const SMALL_WRITES_BUFFER: usize = 8192;

// ANCHOR: request
/// What a client asks: `dir`, `get`, `put` or `close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The command's name. A string rather than an enum, so that an unknown
    /// command is a request the server can answer ("unknown command"), not a
    /// header it cannot parse.
    pub command: String,
    /// The file's name, for `get` and `put`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `put`: how many bytes the file has, so the server can refuse a
    /// file that is too large before a single byte of it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Always 0: a request has no body (a file being put comes after the
    /// server has said it is ready, in a frame of its own).
    pub body_size: u64,
}
// ANCHOR_END: request

// ANCHOR: reply
/// What the server answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// `ok`, `ready` (send the file now) or `error`.
    pub status: Status,
    /// For `error`: what went wrong, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `error`: what the user could do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For the `ok` that ends a `put`: the SHA-256 of what was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Bytes of body after this header: the listing for `dir`, the file for
    /// `get`, 0 otherwise.
    pub body_size: u64,
}

/// How a request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Done; a body may follow.
    Ok,
    /// `put` accepted: the client may now send the file.
    Ready,
    /// Refused or failed; `error` says why. The session goes on.
    Error,
}

/// The frame that carries a file being put: just the body's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// The file's size; must equal the `size` announced in the request.
    pub body_size: u64,
}

/// The frame after every file body: the SHA-256 of the bytes just sent.
///
/// It comes AFTER the body so that the sender reads its file only once,
/// hashing each piece as it sends it. Hashing first would mean reading the
/// whole file twice before the receiver gets its first byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    /// 64 lowercase hex digits.
    pub sha256: String,
    /// Always 0.
    pub body_size: u64,
}
// ANCHOR_END: reply

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

impl Header for Content {
    fn body_size(&self) -> u64 {
        self.body_size
    }
}

impl Header for Trailer {
    fn body_size(&self) -> u64 {
        self.body_size
    }
}

impl Request {
    /// A request without a name: `dir` or `close`.
    pub fn plain(command: &str) -> Self {
        Request {
            command: command.to_string(),
            name: None,
            size: None,
            body_size: 0,
        }
    }

    /// `get NAME`.
    pub fn get(name: &str) -> Self {
        Request {
            name: Some(name.to_string()),
            ..Request::plain("get")
        }
    }

    /// `put NAME` of a file of `size` bytes.
    pub fn put(name: &str, size: u64) -> Self {
        Request {
            name: Some(name.to_string()),
            size: Some(size),
            ..Request::plain("put")
        }
    }
}

impl Reply {
    /// `ok`, with `body_size` bytes of body to follow.
    pub fn ok(body_size: u64) -> Self {
        Reply {
            status: Status::Ok,
            error: None,
            hint: None,
            sha256: None,
            body_size,
        }
    }

    /// `ready`: send the file.
    pub fn ready() -> Self {
        Reply {
            status: Status::Ready,
            ..Reply::ok(0)
        }
    }

    /// `ok` after a `put`, with the digest of what was stored.
    pub fn stored(sha256: String) -> Self {
        Reply {
            sha256: Some(sha256),
            ..Reply::ok(0)
        }
    }

    /// `error`, with the reason and a hint.
    pub fn error(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Reply {
            status: Status::Error,
            error: Some(error.into()),
            hint: Some(hint.into()),
            ..Reply::ok(0)
        }
    }
}

/// Sends the next `size` bytes of `file` as a body, then the trailer with
/// their SHA-256, which it also returns. The header is the caller's: a
/// `get` reply on the server, a [`Content`] frame on the client.
///
/// `progress` is told how many bytes each piece had, for the progress bar.
pub fn send_file(
    out: &mut impl Write,
    file: &mut impl Read,
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<String, FrameError> {
    // ANCHOR: send_file
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let mut checksum = Checksum::new();
    let mut left = size;
    while left > 0 {
        let wanted = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buffer[..wanted])?;
        if n == 0 {
            // The header promised `size` bytes and the peer will wait for all
            // of them: the only honest thing left is to break the connection.
            return Err(FrameError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was being sent",
            )));
        }
        checksum.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
        left -= n as u64;
        progress(n as u64);
    }
    let sha256 = checksum.finish();
    frame::write_header(
        out,
        &Trailer {
            sha256: sha256.clone(),
            body_size: 0,
        },
    )?;
    // ANCHOR_END: send_file
    Ok(sha256)
}

/// What became of a file whose body and trailer were read completely. In
/// every case the connection is still in step, ready for the next frame.
#[derive(Debug)]
pub enum Received {
    /// Verified and renamed into place; here is its SHA-256.
    Stored(String),
    /// The digest did not match: nothing was kept.
    Damaged {
        /// What the sender's trailer announced, made printable: the peer
        /// chose it, and both sides put it in a message.
        expected: String,
        /// What the bytes that arrived hash to.
        actual: String,
    },
    /// Our disk failed (full, read-only, ...): nothing was kept. The rest of
    /// the body was still read, to stay in step with the sender.
    DiskFailed(io::Error),
}

/// Where the bytes of a body go: into the file, or nowhere once the disk
/// has failed (replacing the file drops it, which deletes the temporary).
enum Sink {
    File(PartialFile),
    Failed(io::Error),
}

/// Reads a body of `size` bytes into `file`, then the trailer, and puts the
/// file in place if the digests agree.
///
/// An `Err` means the connection itself failed or was cut (the peer died,
/// went silent, sent a bad trailer): the file is dropped, which deletes the
/// temporary, and the session cannot go on.
pub fn receive_file(
    input: &mut impl Read,
    size: u64,
    file: PartialFile,
    progress: &mut dyn FnMut(u64),
) -> Result<Received, FrameError> {
    // ANCHOR: receive_file
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let mut sink = Sink::File(file);
    // `take(size)` stops after exactly `size` bytes: the trailer that follows
    // is never read by mistake as part of the file.
    let mut body = input.take(size);
    let mut received = 0;
    while received < size {
        let n = match body.read(&mut buffer) {
            Ok(0) => {
                return Err(FrameError::Truncated {
                    part: "body",
                    expected: size,
                    received,
                });
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        received += n as u64;
        progress(n as u64);
        if let Sink::File(partial) = &mut sink
            && let Err(err) = partial.write_all(&buffer[..n])
        {
            // Our disk failed. Keep reading (and dropping) the rest anyway,
            // so that the session stays in step and the sender learns why.
            sink = Sink::Failed(err);
        }
    }
    let trailer = frame::read_header::<Trailer>(input)?.ok_or(FrameError::Truncated {
        part: "trailer",
        expected: 1,
        received: 0,
    })?;
    // ANCHOR_END: receive_file
    // ANCHOR: verify
    Ok(match sink {
        Sink::Failed(err) => Received::DiskFailed(err),
        Sink::File(file) => match file.commit(&trailer.sha256) {
            Ok(sha256) => Received::Stored(sha256),
            // The announced digest may be anything, a newline or a
            // terminal escape included: shown, never obeyed.
            Err(CommitError::Mismatch { expected, actual }) => Received::Damaged {
                expected: printable(&expected),
                actual,
            },
            Err(CommitError::Io(err)) => Received::DiskFailed(err),
        },
    })
    // ANCHOR_END: verify
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> String {
        let mut checksum = Checksum::new();
        checksum.update(bytes);
        checksum.finish()
    }

    fn json(header: &impl Serialize) -> String {
        serde_json::to_string(header).unwrap()
    }

    #[test]
    fn headers_are_the_json_objects_the_chapter_shows() {
        assert_eq!(
            json(&Request::get("hello.txt")),
            r#"{"command":"get","name":"hello.txt","body_size":0}"#
        );
        assert_eq!(
            json(&Request::put("a.bin", 3)),
            r#"{"command":"put","name":"a.bin","size":3,"body_size":0}"#
        );
        assert_eq!(json(&Reply::ready()), r#"{"status":"ready","body_size":0}"#);
        assert_eq!(
            json(&Reply::error("no", "try")),
            r#"{"status":"error","error":"no","hint":"try","body_size":0}"#
        );
        assert_eq!(
            json(&Reply::stored("ab".into())),
            r#"{"status":"ok","sha256":"ab","body_size":0}"#
        );
    }

    #[test]
    fn a_file_streams_through_and_is_stored_when_the_trailer_agrees() {
        let data: Vec<u8> = (0..=255u8).cycle().take(CHUNK_SIZE * 3 + 17).collect();
        let mut wire = Vec::new();
        let mut sent = 0;
        let digest = send_file(
            &mut wire,
            &mut data.as_slice(),
            data.len() as u64,
            &mut |n| sent += n,
        )
        .unwrap();
        assert_eq!(sent, data.len() as u64);
        assert_eq!(digest, sha256(&data));
        wire.extend_from_slice(b"next frame");

        let folder = tempfile::tempdir().unwrap();
        let partial = PartialFile::create(folder.path(), "data.bin").unwrap();
        let mut input = wire.as_slice();
        let received =
            receive_file(&mut input, data.len() as u64, partial, &mut |_| {}).unwrap();
        assert!(
            matches!(received, Received::Stored(ref d) if *d == digest),
            "{received:?}"
        );
        assert_eq!(std::fs::read(folder.path().join("data.bin")).unwrap(), data);
        assert_eq!(
            input, b"next frame",
            "exactly the body and trailer were read"
        );
    }

    #[test]
    fn a_wrong_trailer_keeps_nothing_but_the_stream_stays_in_step() {
        let mut wire = b"abc".to_vec();
        frame::write_header(
            &mut wire,
            &Trailer {
                sha256: sha256(b"abd"),
                body_size: 0,
            },
        )
        .unwrap();
        let folder = tempfile::tempdir().unwrap();
        let partial = PartialFile::create(folder.path(), "x").unwrap();
        let mut input = wire.as_slice();
        let received = receive_file(&mut input, 3, partial, &mut |_| {}).unwrap();
        assert!(matches!(received, Received::Damaged { .. }), "{received:?}");
        assert!(input.is_empty());
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_body_cut_short_is_an_error_and_leaves_no_file() {
        let folder = tempfile::tempdir().unwrap();
        let partial = PartialFile::create(folder.path(), "cut.bin").unwrap();
        let err =
            receive_file(&mut &[1u8; 10][..], 100, partial, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    part: "body",
                    expected: 100,
                    received: 10
                }
            ),
            "{err:?}"
        );
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_that_shrinks_while_sent_breaks_the_transfer() {
        let mut wire = Vec::new();
        let err = send_file(&mut wire, &mut &b"short"[..], 10, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, FrameError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
    }
}
