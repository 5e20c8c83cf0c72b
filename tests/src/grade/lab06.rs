//! Lab 06's rubric: file transfer over lab 05's frames.
//!
//! Each check gives the server a fresh folder of its own (`--root`) and the
//! client one too (`--dir`), and looks at those folders afterwards: a check
//! can then see that a refused or broken transfer left nothing behind.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::contract::CLIENT_TIMEOUT;
use super::session::{
    Finding, REPLY_TIMEOUT, Session, accept_within, preview, read_exactly, write_failure,
};
use super::wire::{frame, read_frame, read_header};
use super::{CHECK_TIMEOUT, Check, Role, contract, memory};
use crate::proxy::Cut;

/// Lab 06's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        contract::BUSY_PORT,
        // The contract's check, with a command this lab's client sends: it
        // refuses `hello` before connecting at all. The client gets a folder
        // of its own, as everywhere: its default, `.`, is wherever the grader
        // runs, and a client that cleans its folder badly would clean that.
        contract::client_without_server(|session| {
            let mine = Folder::new(session, "client")?;
            contract::fails_clearly_without_server(
                session,
                &["--dir", &mine.arg(), "--quiet", "dir"],
            )
        }),
        Check {
            id: "dir-lists-files",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "`dir` lists the plain files of the folder with their sizes, sorted, and nothing else",
            run: dir_lists_files,
        },
        Check {
            id: "get-every-byte",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "`get` sends a file with every byte value, whole, followed by its SHA-256, even cut at random",
            run: get_every_byte,
        },
        Check {
            id: "put-is-stored",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "`put` stores the file under its name only once its SHA-256 matches, and says `ok` with the digest",
            run: put_is_stored,
        },
        Check {
            id: "refuses-unsafe-names",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "refuses `..`, absolute paths, separators, a link that leads outside, and a `put` over a folder or a link; the session goes on",
            run: refuses_unsafe_names,
        },
        Check {
            id: "missing-file",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a `get` of a file that is not there is an error reply with its `error` and `hint`, and the session goes on",
            run: missing_file,
        },
        Check {
            id: "bad-digest-keeps-nothing",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a `put` whose SHA-256 does not match (a wrong one, or the right one in uppercase) is refused and the old file stays exactly as it was",
            run: bad_digest_keeps_nothing,
        },
        Check {
            id: "cut-upload-keeps-nothing",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "an upload cut off halfway leaves the old file as it was, and the server serves the next client",
            run: cut_upload_keeps_nothing,
        },
        Check {
            id: "stalled-upload-is-cut",
            points: 5,
            role: Role::Server,
            // The Protocol's 10 s of grace, then a few seconds to notice.
            timeout: CHECK_TIMEOUT,
            title: "an upload that stops halfway is cut once it falls behind 16384 bytes a second after 10 s, and leaves nothing",
            run: stalled_upload_is_cut,
        },
        Check {
            id: "disk-error-refused",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a `put` the server cannot store (its folder was removed) is an error reply, and the session goes on",
            run: disk_error_refused,
        },
        Check {
            id: "long-names",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a name of 255 bytes is stored and sent back (its temporary's name still fits); one of 256 is refused",
            run: long_names,
        },
        Check {
            id: "same-name-at-once",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "two `put`s of one name at once each get `ready` and are stored; the one that ends last is what the name holds",
            run: same_name_at_once,
        },
        Check {
            id: "stale-temporaries",
            // Given code: the starter's server already cleans up at start.
            points: 0,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "at start the server deletes the temporaries a killed run left, and no other file",
            run: stale_temporaries,
        },
        Check {
            id: "too-large",
            points: 5,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "a `put` larger than the limit (4 GiB by default) is refused before any byte is sent; one of exactly the limit is not",
            run: too_large,
        },
        Check {
            id: "clients-at-once",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "eight sessions open at once are all served: their commands interleave, and their downloads and uploads run side by side intact",
            run: clients_at_once,
        },
        Check {
            id: "get-bounded-memory",
            points: 10,
            role: Role::Server,
            // A 64 MiB download through a debug-built or Python server, on a busy machine.
            timeout: Duration::from_secs(60),
            title: "a `get` of a 64 MiB file is streamed: the server's peak memory grows by less than 16 MiB (Linux only)",
            run: get_bounded_memory,
        },
        Check {
            id: "client-get-and-put",
            points: 10,
            role: Role::Client,
            // Two client runs of up to 20 s each.
            timeout: Duration::from_secs(60),
            title: "the client's `get NAME` and `put PATH` move files intact, through a stream cut at random",
            run: client_get_and_put,
        },
        Check {
            id: "client-dir",
            // Given code: the starter's client already lists.
            points: 0,
            role: Role::Client,
            // Writing 4,000 files and listing them took over 30 s of a
            // machine busy with other grades (load 40-80).
            timeout: Duration::from_secs(60),
            title: "the client's `dir` prints one line per file, with its name and its size",
            run: client_dir,
        },
        Check {
            id: "client-checks-digest",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client keeps nothing of a download whose SHA-256 does not match, and says so in one `error:` line",
            run: client_checks_digest,
        },
    ]
}

/// A folder of the check's own, removed when the check ends.
struct Folder(tempfile::TempDir);

impl Folder {
    fn new(session: &Session, role: &str) -> Result<Folder, Finding> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("labkit-{role}-"))
            .tempdir()
            .map_err(|err| Finding::new("a temporary folder", err.to_string()))?;
        session.note(format!("the {role}'s folder is {}", dir.path().display()));
        Ok(Folder(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn arg(&self) -> String {
        self.path().to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, Finding> {
        let path = self.path().join(name);
        std::fs::write(&path, bytes).map_err(|err| Finding::new("a test file", err.to_string()))?;
        Ok(path)
    }

    /// The names in the folder that do not start with a dot.
    fn visible_names(&self) -> Vec<String> {
        let mut names = self.all_names();
        names.retain(|name| !name.starts_with('.'));
        names
    }

    /// Every name in the folder, hidden ones and temporaries too, sorted.
    fn all_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Waits until the folder holds exactly `expected` (a server may clean
    /// up just after it answered or closed), at most [`SETTLE_TIME`]; `why`
    /// is the diagnosis if it never does.
    fn settles_to(&self, expected: &[&str], why: &str) -> Result<(), Finding> {
        let names = self.settles_within(SETTLE_TIME, |names| names == expected);
        if names == expected {
            return Ok(());
        }
        Err(Finding::new(
            format!("only {expected:?} in the server's folder"),
            format!("{names:?}, {} s later", SETTLE_TIME.as_secs()),
        )
        .diagnosis(why))
    }

    /// Looks at the folder's names until `done` says they will do, or
    /// `limit` has passed; returns the last names seen.
    fn settles_within(&self, limit: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let names = self.all_names();
            if done(&names) || std::time::Instant::now() >= deadline {
                return names;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// How long a server may take to tidy its folder after a transfer failed.
const SETTLE_TIME: Duration = Duration::from_secs(2);

/// The diagnosis when a failed transfer left something in the folder.
const LEFTOVERS: &str = "a transfer that fails must delete its temporary, or the folder fills up \
                         with the remains of every broken upload";

/// Bytes that cover every value, in an order that is not a simple count.
fn every_byte_value(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919) % 256) as u8).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A digest as the Protocol writes it: lowercase hexadecimal digits.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes `bytes`; works from a check's helper threads, which have no session.
fn send(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), Finding> {
    stream
        .write_all(bytes)
        .map_err(|err| Finding::new("the bytes can be sent", write_failure(&err)))
}

/// Sends a request frame and reads the reply frame.
fn request(
    session: &Session,
    stream: &mut TcpStream,
    header: Value,
) -> Result<(Value, Vec<u8>), Finding> {
    session.note(format!("sending {header}"));
    send(stream, &frame(&header, b""))?;
    read_frame(session, stream)
}

/// Sends `dir` and returns the listing's bytes, once the reply says `ok`.
fn list(session: &Session, stream: &mut TcpStream) -> Result<Vec<u8>, Finding> {
    let (reply, body) = request(session, stream, json!({"command": "dir", "body_size": 0}))?;
    expect_status(&reply, "ok")?;
    Ok(body)
}

fn expect_status(reply: &Value, status: &str) -> Result<(), Finding> {
    if reply["status"] == status {
        Ok(())
    } else {
        Err(Finding::new(
            format!("a reply with status {status:?}"),
            reply.to_string(),
        ))
    }
}

/// A whole `put` of `bytes` as `name`, with the trailer digest `digest`.
fn put(
    session: &Session,
    stream: &mut TcpStream,
    name: &str,
    bytes: &[u8],
    digest: &str,
) -> Result<Value, Finding> {
    let (ready, _) = request(
        session,
        stream,
        json!({"command": "put", "name": name, "size": bytes.len(), "body_size": 0}),
    )?;
    expect_status(&ready, "ready")?;
    send(stream, &frame(&json!({"body_size": bytes.len()}), bytes))?;
    send(
        stream,
        &frame(&json!({"sha256": digest, "body_size": 0}), b""),
    )?;
    let (done, _) = read_frame(session, stream)?;
    Ok(done)
}

/// A whole `get` of `name`: the reply, the body and the trailer's digest.
fn get(
    session: &Session,
    stream: &mut TcpStream,
    name: &str,
) -> Result<(Value, Vec<u8>, Option<String>), Finding> {
    let (reply, body) = request(
        session,
        stream,
        json!({"command": "get", "name": name, "body_size": 0}),
    )?;
    if reply["status"] != "ok" {
        return Ok((reply, body, None));
    }
    let (trailer, _) = read_frame(session, stream)?;
    let digest = trailer["sha256"].as_str().map(str::to_string);
    Ok((reply, body, digest))
}

/// The pause after each piece the proxy cuts: long enough that a reader on
/// a busy machine has taken one piece before the next arrives, so a header
/// read with one `recv` comes out short every time, not one run in twelve.
const PIECE_PAUSE: Duration = Duration::from_millis(2);

/// How much of each message the proxy cuts into paced pieces: more than any
/// header of this lab's requests and replies; a file's body after it goes
/// through at full speed.
const CUT_HEAD: usize = 256;

/// A proxy in front of `addr` that cuts the start of every message into
/// random pieces of 1 to 5 bytes, with a pause after each.
fn paced_proxy(session: &Session, addr: SocketAddr) -> Result<SocketAddr, Finding> {
    session.proxy_cutting_heads(addr, Cut::Random, PIECE_PAUSE, CUT_HEAD)
}

/// A fresh folder for a server, holding `files`.
fn served_folder(session: &Session, files: &[(&str, &[u8])]) -> Result<Folder, Finding> {
    let root = Folder::new(session, "server")?;
    for (name, bytes) in files {
        root.write(name, bytes)?;
    }
    Ok(root)
}

/// The student's server on a fresh folder that holds `files`.
fn server_with(
    session: &mut Session,
    files: &[(&str, &[u8])],
) -> Result<(Folder, SocketAddr), Finding> {
    let root = served_folder(session, files)?;
    let addr = session.start_server(&["--root", &root.arg()])?;
    Ok((root, addr))
}

fn dir_lists_files(session: &mut Session) -> Result<(), Finding> {
    let root = Folder::new(session, "server")?;
    root.write("b.bin", &[0, 1, 2])?;
    root.write("a.txt", b"hello")?;
    root.write(".hidden", b"secret")?;
    std::fs::create_dir(root.path().join("folder"))
        .map_err(|err| Finding::new("a sub-folder", err.to_string()))?;
    let addr = session.start_server(&["--root", &root.arg()])?;
    let mut stream = session.connect(addr)?;
    let body = list(session, &mut stream)?;
    let listing: Value = serde_json::from_slice(&body).map_err(|err| {
        Finding::new(
            "a JSON array as the body",
            format!("{err}: {:?}", preview(&body)),
        )
    })?;
    let expected = json!([{"name": "a.txt", "size": 5}, {"name": "b.bin", "size": 3}]);
    if listing != expected {
        return Err(
            Finding::new(expected.to_string(), listing.to_string()).diagnosis(
                "list plain files only, sorted by name, without names starting with a dot",
            ),
        );
    }
    Ok(())
}

fn get_every_byte(session: &mut Session) -> Result<(), Finding> {
    let content = every_byte_value(300_000);
    let (_root, addr) = server_with(session, &[("every byte.bin", &content)])?;
    let proxy = paced_proxy(session, addr)?;
    let mut stream = session.connect(proxy)?;
    let (reply, body, digest) = get(session, &mut stream, "every byte.bin")?;
    expect_status(&reply, "ok")?;
    if body != content {
        return Err(Finding::new(
            "the file's 300000 bytes, unchanged",
            format!("{} bytes that differ", body.len()),
        ));
    }
    if digest.as_deref() != Some(sha256_hex(&content).as_str()) {
        return Err(Finding::new(
            format!("a trailer with sha256 {}", sha256_hex(&content)),
            format!("{digest:?}"),
        ));
    }
    Ok(())
}

fn put_is_stored(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[])?;
    let content = every_byte_value(100_000);
    let digest = sha256_hex(&content);
    let proxy = paced_proxy(session, addr)?;
    let mut stream = session.connect(proxy)?;
    let done = put(session, &mut stream, "upload é.bin", &content, &digest)?;
    expect_status(&done, "ok")?;
    if done["sha256"] != digest.as_str() {
        return Err(Finding::new(
            format!("sha256 {digest} in the `ok`"),
            done.to_string(),
        ));
    }
    let stored = std::fs::read(root.path().join("upload é.bin")).map_err(|err| {
        Finding::new(
            "the file stored under its name",
            format!("no such file ({})", err.kind()),
        )
    })?;
    if stored != content {
        return Err(Finding::new(
            "the stored file equal to what was sent",
            format!("{} bytes that differ", stored.len()),
        ));
    }
    Ok(())
}

fn refuses_unsafe_names(session: &mut Session) -> Result<(), Finding> {
    let outside = Folder::new(session, "outside")?;
    let secret = outside.write("secret.txt", b"not yours")?;
    let (root, addr) = server_with(session, &[("fine.txt", b"fine")])?;
    std::os::unix::fs::symlink(&secret, root.path().join("link.txt"))
        .map_err(|err| Finding::new("a symlink", err.to_string()))?;
    let mut stream = session.connect(addr)?;
    let escape = format!(
        "../{}/secret.txt",
        outside
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
    );
    let absolute = secret.to_string_lossy().into_owned();
    for name in [
        escape.as_str(),
        absolute.as_str(),
        "..",
        "sub/fine.txt",
        "link.txt",
    ] {
        let (reply, body, _) = get(session, &mut stream, name)?;
        if reply["status"] != "error" || !body.is_empty() {
            return Err(Finding::new(format!("an error reply for get {name:?}"), reply.to_string())
                .diagnosis("only plain names inside the served folder may be read: check the name, then where it resolves"));
        }
    }
    let (reply, _) = request(
        session,
        &mut stream,
        json!({"command": "put", "name": "../escaped.txt", "size": 1, "body_size": 0}),
    )?;
    expect_status(&reply, "error")?;
    std::fs::create_dir(root.path().join("folder"))
        .map_err(|err| Finding::new("a sub-folder", err.to_string()))?;
    for name in ["folder", "link.txt"] {
        let (reply, _) = request(
            session,
            &mut stream,
            json!({"command": "put", "name": name, "size": 4, "body_size": 0}),
        )?;
        if reply["status"] != "error" {
            return Err(Finding::new(format!("an error reply for put {name:?}"), reply.to_string())
                .diagnosis("a put may create a file or replace a plain file, never a folder or a link: look at the name itself, without following it"));
        }
    }
    if outside
        .path()
        .parent()
        .is_some_and(|parent| parent.join("escaped.txt").exists())
    {
        return Err(Finding::new(
            "nothing written outside the folder",
            "escaped.txt was written",
        ));
    }
    let (reply, body, _) = get(session, &mut stream, "fine.txt")
        .map_err(|finding| finding.diagnosis("after a refusal the session goes on"))?;
    expect_status(&reply, "ok")?;
    if body != b"fine" {
        return Err(Finding::new(
            "the file \"fine\"",
            format!("{:?}", preview(&body)),
        ));
    }
    Ok(())
}

fn missing_file(session: &mut Session) -> Result<(), Finding> {
    let (_root, addr) = server_with(session, &[("here.txt", b"here")])?;
    let mut stream = session.connect(addr)?;
    let (reply, _, _) = get(session, &mut stream, "not-here.txt")?;
    expect_status(&reply, "error")?;
    if !reply["error"].is_string() || !reply["hint"].is_string() {
        return Err(Finding::new(
            "an error reply with an `error` and a `hint`, both strings",
            reply.to_string(),
        )
        .diagnosis("a refusal says what went wrong (`error`) and what to do about it (`hint`)"));
    }
    let (reply, body, _) = get(session, &mut stream, "here.txt")?;
    expect_status(&reply, "ok")?;
    (body == b"here")
        .then_some(())
        .ok_or_else(|| Finding::new("the file \"here\"", format!("{:?}", preview(&body))))
}

fn bad_digest_keeps_nothing(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[("report.txt", b"the old report")])?;
    let mut stream = session.connect(addr)?;
    let wrong = sha256_hex(b"something else");
    let done = put(
        session,
        &mut stream,
        "report.txt",
        b"a damaged new report",
        &wrong,
    )?;
    expect_status(&done, "error")?;
    // The Protocol's digests are lowercase, compared as text: the right
    // digest in uppercase does not match either.
    let new_report = b"a new report, whole";
    let uppercase = sha256_hex(new_report).to_uppercase();
    let done = put(session, &mut stream, "report.txt", new_report, &uppercase)?;
    expect_status(&done, "error").map_err(|finding| {
        finding.diagnosis(
            "a digest in uppercase is not the Protocol's digest (64 lowercase hex digits): \
             compare the texts as they are",
        )
    })?;
    let kept = std::fs::read(root.path().join("report.txt")).unwrap_or_default();
    if kept != b"the old report" {
        return Err(
            Finding::new("the old report, untouched", format!("{:?}", preview(&kept))).diagnosis(
                "write to a temporary file and rename it into place only after the digests match",
            ),
        );
    }
    root.settles_to(&["report.txt"], LEFTOVERS)
}

/// A server whose folder holds old.bin, and a `put` of a new old.bin of
/// 1000000 bytes of which only `sent` went out: the connection is left to
/// the caller, to cut or to stall.
fn upload_part_of_old_bin(
    session: &mut Session,
    sent: usize,
) -> Result<(Folder, SocketAddr, TcpStream), Finding> {
    let (root, addr) = server_with(session, &[("old.bin", b"old and whole")])?;
    let mut stream = session.connect(addr)?;
    let (ready, _) = request(
        session,
        &mut stream,
        json!({"command": "put", "name": "old.bin", "size": 1_000_000, "body_size": 0}),
    )?;
    expect_status(&ready, "ready")?;
    send(
        &mut stream,
        &frame(&json!({"body_size": 1_000_000}), &every_byte_value(sent)),
    )?;
    Ok((root, addr, stream))
}

fn cut_upload_keeps_nothing(session: &mut Session) -> Result<(), Finding> {
    let (root, addr, stream) = upload_part_of_old_bin(session, 400_000)?;
    session.note("sent 400000 of 1000000 bytes; now the client stops sending");
    // A half-close: the server sees the end of the stream in the middle of
    // the body. Reading until it closes its side too tells us it has dealt
    // with the cut, so what we look at next is what it left behind.
    let _ = stream.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = stream.take(1 << 16).read_to_end(&mut rest);
    let mut next = session.connect(addr)?;
    let body = list(session, &mut next)?;
    let listing: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let old_entry = json!({"name": "old.bin", "size": 13});
    if !listing
        .as_array()
        .is_some_and(|entries| entries.contains(&old_entry))
    {
        return Err(Finding::new(
            "old.bin listed with its old size, 13 bytes",
            listing.to_string(),
        ));
    }
    let kept = std::fs::read(root.path().join("old.bin")).unwrap_or_default();
    if kept != b"old and whole" {
        return Err(
            Finding::new("the old file, untouched", format!("{} bytes", kept.len()))
                .diagnosis("a transfer that breaks off must leave the old file as it was"),
        );
    }
    root.settles_to(&["old.bin"], LEFTOVERS)
}

fn too_large(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[])?;
    let mut stream = session.connect(addr)?;
    let size = 4_294_967_297u64;
    let (reply, _) = request(
        session,
        &mut stream,
        json!({"command": "put", "name": "huge.bin", "size": size, "body_size": 0}),
    )?;
    expect_status(&reply, "error")?;
    // A refusal ends the request, not the session; then this client leaves,
    // so that a server serving one session at a time can take the next.
    list(session, &mut stream)?;
    drop(stream);
    // Exactly the limit is allowed: `ready`, then this client goes away.
    let mut largest = session.connect(addr)?;
    let (reply, _) = request(
        session,
        &mut largest,
        json!({"command": "put", "name": "largest.bin", "size": size - 1, "body_size": 0}),
    )?;
    expect_status(&reply, "ready").map_err(|finding| {
        finding.diagnosis("a file of exactly the limit, 4294967296 bytes, is accepted")
    })?;
    drop(largest);
    if !root.visible_names().is_empty() {
        return Err(Finding::new(
            "nothing stored",
            format!("{:?}", root.visible_names()),
        ));
    }
    Ok(())
}

fn clients_at_once(session: &mut Session) -> Result<(), Finding> {
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| {
            (
                format!("shared-{i}.bin"),
                every_byte_value(50_000 + i * 1000),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    let (root, addr) = server_with(session, &borrowed)?;
    session.note("8 sessions open at once, each asks for `dir` in turn while all stay open");
    let mut streams = Vec::new();
    for _ in 0..8 {
        streams.push(session.connect(addr)?);
    }
    interleave(session, &mut streams)?;
    session.note("now 4 of them download and 4 upload, all at the same time");
    let runs: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let wanted = files.get(i).cloned();
            thread::spawn(move || -> Result<(), String> {
                let quiet = Session::detached();
                match wanted {
                    Some((name, bytes)) => {
                        let (reply, body, digest) =
                            get(&quiet, &mut stream, &name).map_err(|f| f.seen)?;
                        (reply["status"] == "ok"
                            && body == bytes
                            && digest == Some(sha256_hex(&bytes)))
                        .then_some(())
                        .ok_or(format!("client {i}: get {name} came back wrong"))
                    }
                    None => {
                        let bytes = every_byte_value(60_000 + i);
                        let done = put(
                            &quiet,
                            &mut stream,
                            &format!("upload-{i}.bin"),
                            &bytes,
                            &sha256_hex(&bytes),
                        )
                        .map_err(|f| f.seen)?;
                        (done["status"] == "ok")
                            .then_some(())
                            .ok_or(format!("client {i}: put refused: {done}"))
                    }
                }
            })
        })
        .collect();
    for run in runs {
        run.join()
            .map_err(|_| Finding::new("every client finishes", "a client thread panicked"))?
            .map_err(|seen| Finding::new("every transfer intact", seen))?;
    }
    for i in 4..8 {
        let stored = std::fs::read(root.path().join(format!("upload-{i}.bin"))).unwrap_or_default();
        if stored != every_byte_value(60_000 + i) {
            return Err(Finding::new(
                format!("upload-{i}.bin stored intact"),
                format!("{} bytes", stored.len()),
            ));
        }
    }
    Ok(())
}

/// The file `get-bounded-memory` downloads: big enough that holding it
/// whole shows, whatever else a server keeps in memory.
const BIG_FILE: usize = 64 << 20;

/// The most a server's peak memory may grow while it sends [`BIG_FILE`]:
/// room for generous buffers, a quarter of the file.
const MEMORY_GROWTH_LIMIT_KIB: u64 = 16 << 10;

fn get_bounded_memory(session: &mut Session) -> Result<(), Finding> {
    if !memory::can_measure() {
        return Err(Finding::skipped(
            "a machine that shows a program's peak memory (Linux's /proc/PID/status)",
            "run this check on Linux (a Linux machine, VM or container): \
             just grade 06 --only get-bounded-memory",
        ));
    }
    let root = Folder::new(session, "server")?;
    write_big_file(&root.path().join("big.bin"))?;
    let addr = session.start_server(&["--root", &root.arg()])?;
    let pid = session
        .server_pid(addr)
        .ok_or_else(|| Finding::new("the server's process id", "none"))?;
    let mut stream = session.connect(addr)?;
    // A first command, so that what a server sets up once is already in
    // the baseline.
    list(session, &mut stream)?;
    let before = peak_of(pid)?;
    session.note(format!(
        "the server's peak memory before the get: {before} KiB"
    ));
    let (reply, _) = request_header(
        session,
        &mut stream,
        json!({"command": "get", "name": "big.bin", "body_size": 0}),
    )?;
    expect_status(&reply, "ok")?;
    let digest = read_body_digest(&mut stream, BIG_FILE)?;
    let (trailer, _) = read_frame(session, &mut stream)?;
    let after = peak_of(pid)?;
    session.note(format!(
        "the server's peak memory after the get: {after} KiB"
    ));
    if trailer["sha256"] != digest.as_str() {
        return Err(Finding::new(
            format!("the 64 MiB file whole, with sha256 {digest}"),
            trailer.to_string(),
        ));
    }
    let growth = after.saturating_sub(before);
    if growth > MEMORY_GROWTH_LIMIT_KIB {
        return Err(Finding::new(
            format!("peak memory growing by at most {MEMORY_GROWTH_LIMIT_KIB} KiB during the get"),
            format!("it grew by {growth} KiB ({before} KiB before, {after} KiB at its peak)"),
        )
        .diagnosis(
            "the file was held in memory, whole or in large part: send it in pieces of a fixed \
             size (read a piece, send it, read the next)",
        ));
    }
    Ok(())
}

/// The peak memory of the server `pid` and its children, in KiB.
fn peak_of(pid: u32) -> Result<u64, Finding> {
    memory::peak_kib_of_tree(pid).ok_or_else(|| {
        Finding::new("the server still running", "its process is gone")
            .diagnosis("the server exited during the check")
    })
}

/// Writes [`BIG_FILE`] bytes of every value, a mebibyte at a time.
fn write_big_file(path: &Path) -> Result<(), Finding> {
    let fail = |err: std::io::Error| Finding::new("a 64 MiB test file", err.to_string());
    let mut file = std::fs::File::create(path).map_err(fail)?;
    let piece = every_byte_value(1 << 20);
    for _ in 0..BIG_FILE / piece.len() {
        file.write_all(&piece).map_err(fail)?;
    }
    Ok(())
}

/// Sends a request frame and reads only the reply's header: its body is
/// for the caller to read.
fn request_header(
    session: &Session,
    stream: &mut TcpStream,
    header: Value,
) -> Result<(Value, u64), Finding> {
    session.note(format!("sending {header}"));
    send(stream, &frame(&header, b""))?;
    let reply = read_header(stream)?;
    session.note(format!("got the header {reply}"));
    let size = reply["body_size"].as_u64().unwrap_or(0);
    Ok((reply, size))
}

/// Reads `size` body bytes in bounded pieces and returns their SHA-256.
fn read_body_digest(stream: &mut TcpStream, size: usize) -> Result<String, Finding> {
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let wanted = left.min(256 * 1024);
        let got = read_exactly(stream, wanted).map_err(|short| {
            Finding::new(
                format!("{size} bytes of file"),
                format!("{} bytes, then {short}", size - left),
            )
            .diagnosis(short.diagnosis())
        })?;
        hasher.update(&got);
        left -= wanted;
    }
    Ok(hex(&hasher.finalize()))
}

/// Sends `dir` on each open session in turn, twice round, each answered
/// before the next session asks: a server that serves one client at a time
/// is still waiting for the first session's next command, and never
/// answers the second, however the threads happen to be scheduled.
fn interleave(session: &Session, streams: &mut [TcpStream]) -> Result<(), Finding> {
    let open = streams.len();
    for _round in 0..2 {
        for (i, stream) in streams.iter_mut().enumerate() {
            let dir = json!({"command": "dir", "body_size": 0});
            let (reply, _) = request(session, stream, dir).map_err(|finding| {
                finding.diagnosis(format!(
                    "session {} of {open} got no answer while the others stayed open between \
                     commands: does the server serve one client at a time? Serve each \
                     connection in a thread of its own.",
                    i + 1
                ))
            })?;
            expect_status(&reply, "ok")?;
        }
    }
    Ok(())
}

fn client_get_and_put(session: &mut Session) -> Result<(), Finding> {
    let content = every_byte_value(200_000);
    let root = served_folder(session, &[("from server.bin", &content)])?;
    let addr = session.start_reference_server(&["--root", &root.arg()])?;
    let proxy = paced_proxy(session, addr)?;
    let mine = Folder::new(session, "client")?;
    let upload = every_byte_value(150_001);
    mine.write("to server.bin", &upload)?;
    let dir = mine.arg();
    for command in [["get", "from server.bin"], ["put", "to server.bin"]] {
        let run = session.run_client(
            proxy,
            &["--dir", &dir, "--quiet", command[0], command[1]],
            "",
            Duration::from_secs(20),
        )?;
        if !run.success {
            return Err(Finding::new(
                format!("`{} {}` succeeds", command[0], command[1]),
                "a non-zero exit status",
            ));
        }
    }
    let got = std::fs::read(mine.path().join("from server.bin")).unwrap_or_default();
    if got != content {
        return Err(Finding::new(
            "the downloaded file equal to the server's",
            format!("{} bytes", got.len()),
        ));
    }
    let stored = std::fs::read(root.path().join("to server.bin")).unwrap_or_default();
    if stored != upload {
        return Err(Finding::new(
            "the uploaded file stored intact",
            format!("{} bytes", stored.len()),
        ));
    }
    Ok(())
}

fn client_checks_digest(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: its file's trailer carries a wrong sha256"
    ));
    // Says whether the damaged file went out: a client that fails without
    // asking has not shown that it checks anything.
    let wait = session.patient(CLIENT_TIMEOUT);
    let server = thread::spawn(move || -> bool {
        let Ok(mut conn) = accept_within(&listener, wait) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(REPLY_TIMEOUT));
        let quiet = Session::detached();
        // The first request is the get; anything after it (a `close`) is
        // simply answered `ok`, so the client is never kept waiting.
        let mut sent = false;
        while read_frame(&quiet, &mut conn).is_ok() {
            let reply = if sent {
                frame(&json!({"status": "ok", "body_size": 0}), b"")
            } else {
                let content = b"these bytes were damaged on the way";
                let wrong = sha256_hex(b"the original bytes");
                let mut bytes = frame(
                    &json!({"status": "ok", "body_size": content.len()}),
                    content,
                );
                bytes.extend(frame(&json!({"sha256": wrong, "body_size": 0}), b""));
                bytes
            };
            if conn.write_all(&reply).is_err() {
                break;
            }
            sent = true;
        }
        sent
    });
    let mine = Folder::new(session, "client")?;
    let run = session.run_client(
        addr,
        &["--dir", &mine.arg(), "--quiet", "get", "damaged.txt"],
        "",
        CLIENT_TIMEOUT,
    )?;
    if !server.join().unwrap_or(false) {
        return Err(contract::never_asked("file", &run.stderr));
    }
    if run.success {
        return Err(Finding::new(
            "a non-zero exit status: the download was damaged",
            "exit status 0",
        ));
    }
    contract::expect_one_error_line(&run.stderr)?;
    let names = mine.visible_names();
    if !names.is_empty() {
        return Err(
            Finding::new("nothing kept in the client's folder", format!("{names:?}"))
                .diagnosis("write to a temporary file and rename it only after the digests match"),
        );
    }
    Ok(())
}

fn disk_error_refused(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[])?;
    let mut stream = session.connect(addr)?;
    list(session, &mut stream)?;
    std::fs::remove_dir(root.path())
        .map_err(|err| Finding::new("the server's folder removed", err.to_string()))?;
    session.note("removed the server's folder: nothing can be stored now");
    let content = b"nowhere to go";
    let (reply, _) = request(
        session,
        &mut stream,
        json!({"command": "put", "name": "lost.txt", "size": content.len(), "body_size": 0}),
    )?;
    // The refusal may come instead of `ready`, or after the file.
    let done = if reply["status"] == "ready" {
        send(
            &mut stream,
            &frame(&json!({"body_size": content.len()}), content),
        )?;
        let trailer = json!({"sha256": sha256_hex(content), "body_size": 0});
        send(&mut stream, &frame(&trailer, b""))?;
        read_frame(session, &mut stream)?.0
    } else {
        reply
    };
    expect_status(&done, "error").map_err(|finding| {
        finding.diagnosis(
            "a file the server cannot write is a refusal: one error reply, then the next command",
        )
    })?;
    std::fs::create_dir(root.path())
        .map_err(|err| Finding::new("the server's folder made again", err.to_string()))?;
    session.note("made the server's folder again");
    let again = b"stored after all";
    let done = put(session, &mut stream, "after.txt", again, &sha256_hex(again))
        .map_err(|finding| finding.diagnosis("after a refusal the session goes on"))?;
    expect_status(&done, "ok")?;
    root.settles_to(&["after.txt"], LEFTOVERS)
}

fn long_names(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[])?;
    let mut stream = session.connect(addr)?;
    // 255 bytes: an `x`, then 127 two-byte letters, so that the 200th byte,
    // where a temporary's name cuts NAME, falls inside a letter.
    let longest = format!("x{}", "é".repeat(127));
    let content = every_byte_value(1000);
    let done = put(
        session,
        &mut stream,
        &longest,
        &content,
        &sha256_hex(&content),
    )?;
    expect_status(&done, "ok").map_err(|finding| {
        finding.diagnosis(
            "a name of 255 bytes is a plain name: its temporary keeps only NAME's first 200 \
             bytes (cut at a character boundary), so that its name fits in 255 bytes too",
        )
    })?;
    let (reply, body, digest) = get(session, &mut stream, &longest)?;
    expect_status(&reply, "ok")?;
    if body != content || digest != Some(sha256_hex(&content)) {
        return Err(Finding::new(
            "the 1000 bytes stored under the 255-byte name, with their sha256",
            format!("{} bytes, sha256 {digest:?}", body.len()),
        ));
    }
    let too_long = format!("{longest}y");
    let (reply, _, _) = get(session, &mut stream, &too_long)?;
    expect_status(&reply, "error")
        .map_err(|finding| finding.diagnosis("a name longer than 255 bytes is refused"))?;
    root.settles_to(&[longest.as_str()], LEFTOVERS)
}

fn same_name_at_once(session: &mut Session) -> Result<(), Finding> {
    let (root, addr) = server_with(session, &[])?;
    let first = every_byte_value(200_000);
    let second: Vec<u8> = every_byte_value(100_001).into_iter().rev().collect();
    let mut early = session.connect(addr)?;
    let mut late = session.connect(addr)?;
    let (ready, _) = request(
        session,
        &mut early,
        json!({"command": "put", "name": "same.bin", "size": first.len(), "body_size": 0}),
    )?;
    expect_status(&ready, "ready")?;
    let (half, rest) = first.split_at(first.len() / 2);
    send(&mut early, &frame(&json!({"body_size": first.len()}), half))?;
    // The second put starts once the first one's temporary is there (or a
    // moment has passed, for a server that makes it later), so that the
    // two transfers really overlap.
    root.settles_within(SETTLE_TIME, |names| {
        names.iter().any(|name| name.starts_with('.'))
    });
    session.note("the first session sent half of same.bin; a second one now puts same.bin whole");
    let done = put(
        session,
        &mut late,
        "same.bin",
        &second,
        &sha256_hex(&second),
    )
    .map_err(|finding| {
        finding.diagnosis(
            "each put needs a temporary of its own, with random digits in its name: a put \
             must not wait for, or write into, another put's temporary",
        )
    })?;
    expect_status(&done, "ok")?;
    stored_as(
        &root,
        "same.bin",
        &second,
        "the second put's file, now that it ended",
    )?;
    send(&mut early, rest)?;
    let trailer = json!({"sha256": sha256_hex(&first), "body_size": 0});
    send(&mut early, &frame(&trailer, b""))?;
    let (done, _) = read_frame(session, &mut early)?;
    expect_status(&done, "ok")?;
    stored_as(
        &root,
        "same.bin",
        &first,
        "the first put's file, now that it ended last",
    )?;
    root.settles_to(&["same.bin"], LEFTOVERS)
}

/// Checks that `name` in `root` holds exactly `content`.
fn stored_as(root: &Folder, name: &str, content: &[u8], what: &str) -> Result<(), Finding> {
    let stored = std::fs::read(root.path().join(name)).unwrap_or_default();
    if stored != content {
        return Err(Finding::new(
            format!("{name} holding {what} ({} bytes)", content.len()),
            format!("{} bytes that differ", stored.len()),
        ));
    }
    Ok(())
}

fn stale_temporaries(session: &mut Session) -> Result<(), Finding> {
    let root = Folder::new(session, "server")?;
    let stale = ".old.bin.partial-0123456789abcdef";
    let others = [".config", ".draft.partial-abc", "keep.txt"];
    for name in others.iter().chain([&stale]) {
        root.write(name, b"left here")?;
    }
    session.note(format!(
        "the folder holds {stale}, left by a run that was killed, and {others:?}"
    ));
    session.start_server(&["--root", &root.arg()])?;
    root.settles_to(
        &others,
        "at start, delete the files named like a temporary (`.NAME.partial-` and 16 hex \
         digits), and only those",
    )
}

/// How many filler files `client-dir` adds: their listing is over a
/// mebibyte (about 280 bytes of JSON each).
const LISTING_FILLERS: usize = 4000;

fn client_dir(session: &mut Session) -> Result<(), Finding> {
    let files = [("notes.txt", 12_345), ("photo one.jpg", 678)];
    let contents: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|&(name, size)| (name, every_byte_value(size)))
        .collect();
    let borrowed: Vec<(&str, &[u8])> = contents
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .collect();
    let root = served_folder(session, &borrowed)?;
    // Empty files with long names, enough for a listing of over a mebibyte:
    // a folder of a few thousand files is listed whole too. They sort after
    // the two files above, whose lines then come first in what is kept of
    // the client's output.
    for i in 0..LISTING_FILLERS {
        root.write(&format!("zz-filler-{i:04}-{}", "x".repeat(237)), b"")?;
    }
    session.note(format!(
        "the folder also holds {LISTING_FILLERS} empty files with 252-byte names"
    ));
    let addr = session.start_reference_server(&["--root", &root.arg()])?;
    let mine = Folder::new(session, "client")?;
    let run = session.run_client(
        addr,
        &["--dir", &mine.arg(), "--quiet", "dir"],
        "",
        CLIENT_TIMEOUT,
    )?;
    if !run.success {
        return Err(Finding::new("`dir` succeeds", "a non-zero exit status"));
    }
    let lines: Vec<&str> = run.stdout.lines().collect();
    let mut used = Vec::new();
    for (name, size) in files {
        let size = size.to_string();
        let line = lines.iter().position(|line| {
            line.contains(name)
                && line
                    .split(|c: char| !c.is_ascii_digit())
                    .any(|word| word == size)
        });
        match line {
            Some(line) if !used.contains(&line) => used.push(line),
            _ => {
                return Err(Finding::new(
                    format!("a line of its own with {name:?} and its size, {size}"),
                    format!("{:?}", preview(run.stdout.as_bytes())),
                )
                .diagnosis("print the listing one line per file, with its name and its size"));
            }
        }
    }
    Ok(())
}

/// How long after a stalled upload's header a server may take to cut it:
/// the Protocol's 10 s of grace, and some seconds for a busy machine.
const STALL_LIMIT: Duration = Duration::from_secs(18);

fn stalled_upload_is_cut(session: &mut Session) -> Result<(), Finding> {
    let (root, _, stream) = upload_part_of_old_bin(session, 1000)?;
    session.note("sent 1000 of 1000000 bytes; now the client stalls, its connection open");
    let _ = stream.set_read_timeout(Some(STALL_LIMIT));
    // Whatever comes (an error reply, or nothing), the server must end the
    // connection: a read that ends, with 0 bytes or a reset.
    let mut rest = Vec::new();
    match stream.take(1 << 16).read_to_end(&mut rest) {
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return Err(Finding::new(
                format!(
                    "the connection cut within {} s of the stalled file's header",
                    STALL_LIMIT.as_secs()
                ),
                "it was still open",
            )
            .diagnosis(
                "a file that falls behind 16384 bytes a second after 10 s of grace is a slow \
                 frame: cut the connection and drop the file (a read that times out is not \
                 retried)",
            ));
        }
        _ => session.note("the server ended the connection"),
    }
    root.settles_to(&["old.bin"], LEFTOVERS)?;
    stored_as(
        &root,
        "old.bin",
        b"old and whole",
        "the old file, untouched",
    )
}
