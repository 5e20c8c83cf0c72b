//! Lab 06 over real sockets: the real binaries, port 0, temporary folders,
//! no sleeps to wait for readiness.
//!
//! Test files are built here, in temporary folders; big ones are sparse (a
//! size without data blocks), so "a 3 GiB file" costs no disk and no time
//! unless it is really sent, and a transfer of it is surely still running
//! when the test interrupts it.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lab05_framed_header::frame::{self, Header};
use lab06_file_transfer::checksum::Checksum;
use lab06_file_transfer::partial::{is_temporary, temporary_name};
use lab06_file_transfer::protocol::{Content, Reply, Request, Status, Trailer};
use labkit::peer::{self, FakeServer};
use labkit::{Server, client, contract, reset};
use tempfile::TempDir;

const SERVER: &str = env!("CARGO_BIN_EXE_lab06-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab06-client");
const BENCH: &str = env!("CARGO_BIN_EXE_lab06-bench");

/// A folder with these files in it.
fn folder_with(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (name, content) in files {
        fs::write(dir.path().join(name), content).expect("a test file is written");
    }
    dir
}

/// A lab06-server sharing `root`, with extra options.
fn start(root: &Path, options: &[&str]) -> Server {
    let mut args = vec!["--root", root.to_str().expect("UTF-8 temp path")];
    args.extend_from_slice(options);
    Server::start(SERVER, args).expect("the server starts")
}

/// A lab06-client of `server` working in `dir`, without a progress bar.
fn client_in(server: &Server, dir: &Path) -> assert_cmd::Command {
    let mut command = client(CLIENT, server);
    command.arg("--dir").arg(dir).arg("--quiet");
    command
}

/// The same, as a plain process the test can kill or talk to.
fn spawn_client(server: &Server, dir: &Path, args: &[&str]) -> Child {
    Command::new(CLIENT)
        .args(["--port", &server.port(), "--quiet", "--dir"])
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts")
}

/// SHA-256 in hex, as the client prints it.
fn sha256(bytes: &[u8]) -> String {
    let mut checksum = Checksum::new();
    checksum.update(bytes);
    checksum.finish()
}

/// The names in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the folder can be listed")
        .map(|entry| {
            let name = entry.expect("an entry can be read").file_name();
            name.into_string().expect("test file names are UTF-8")
        })
        .collect();
    names.sort();
    names
}

/// A file of `size` bytes that takes no disk space (a hole reads as zeros).
fn sparse_file(path: &Path, size: u64) {
    File::create(path)
        .and_then(|file| file.set_len(size))
        .expect("a sparse file is created");
}

/// Waits until `condition` holds, for up to 10 s; the test fails otherwise.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a temporary in `dir` has received some bytes: a transfer into
/// `dir` is under way.
fn wait_for_bytes_in_a_temporary(dir: &Path) {
    wait_until("a transfer has started writing its temporary", || {
        let entries = fs::read_dir(dir).expect("the folder can be listed");
        entries.flatten().any(|entry| {
            entry.file_name().to_str().is_some_and(is_temporary)
                && entry.metadata().is_ok_and(|metadata| metadata.len() > 0)
        })
    });
}

/// Waits for a child's exit and returns its stdout and stderr.
fn finish(child: Child) -> (bool, String, String) {
    let output = child.wait_with_output().expect("the client finishes");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// For a test playing the server: ends a download with a trailer that
/// announces `sha256`, then answers the client's goodbye (`close`).
fn end_download(connection: &mut TcpStream, sha256: String) {
    let trailer = Trailer {
        sha256,
        body_size: 0,
    };
    let _ = frame::write_frame(connection, &trailer, b"");
    if frame::read_header::<Request>(connection).is_ok() {
        let _ = frame::write_frame(connection, &Reply::ok(0), b"");
    }
}

/// A raw connection from the test itself that speaks the protocol through
/// the lab's own frame module, and can stop wherever a test wants.
struct Raw {
    stream: TcpStream,
}

impl Raw {
    fn connect(server: &Server) -> Raw {
        let stream =
            TcpStream::connect(server.addr()).expect("the server accepts connections");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout can be set");
        Raw { stream }
    }

    fn send(&mut self, header: &impl Header, body: &[u8]) {
        frame::write_frame(&mut self.stream, header, body).expect("the frame is sent");
    }

    fn reply(&mut self) -> Reply {
        frame::read_header(&mut self.stream)
            .expect("a reply header arrives")
            .expect("the server answers before closing")
    }

    /// Sends `put` and expects `ready`.
    fn start_put(&mut self, name: &str, size: u64) {
        self.send(&Request::put(name, size), b"");
        assert_eq!(self.reply().status, Status::Ready);
    }

    /// Sends `dir` and returns the listing's JSON.
    fn dir(&mut self) -> String {
        self.send(&Request::plain("dir"), b"");
        let reply = self.reply();
        assert_eq!(reply.status, Status::Ok);
        let body = frame::read_body(&mut self.stream, reply.body_size, 1 << 20)
            .expect("the listing arrives");
        String::from_utf8(body).expect("the listing is UTF-8 JSON")
    }
}

/// Every shape of file goes up and comes back byte for byte, with the SHA-256
/// printed by the client equal to the one of the original.
#[test]
fn files_of_every_shape_go_up_and_come_back_byte_for_byte() {
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(256 * 41).collect();
    let several_mib: Vec<u8> = (0..(3 << 20) + 12345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let files: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("one-byte", b"x"),
        ("every-byte-value.bin", &every_byte),
        ("several-mib.bin", &several_mib),
        (
            "café 报告.txt",
            "non-ASCII name, non-ASCII text: ünïcödé\n".as_bytes(),
        ),
    ];
    let up = folder_with(&files);
    let root = tempfile::tempdir().unwrap();
    let down = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);

    for (name, content) in files {
        client_in(&server, up.path())
            .args(["put", name])
            .assert()
            .success()
            .stdout(format!(
                "put {name}: {} bytes, SHA-256 {} (verified by the server)\n",
                content.len(),
                sha256(content)
            ));
        client_in(&server, down.path())
            .args(["get", name])
            .assert()
            .success()
            .stdout(format!(
                "got {name}: {} bytes, SHA-256 {} (verified)\n",
                content.len(),
                sha256(content)
            ));
        assert_eq!(fs::read(root.path().join(name)).unwrap(), content, "{name}");
        assert_eq!(fs::read(down.path().join(name)).unwrap(), content, "{name}");
    }
    assert_eq!(names_in(down.path()), names_in(root.path()));
}

/// One session, many commands from stdin; the listing shows sizes and names
/// and nothing that is not shared: no folder, hidden file, temporary, or
/// link that leads out. A link to a shared file is listed.
#[cfg(unix)] // symbolic links are made with a Unix call
#[test]
fn dir_lists_only_plain_shared_files_with_their_sizes() {
    let root = folder_with(&[
        ("hello.txt", b"hello\n"),
        (".secret", b"hidden"),
        ("b.bin", &[0; 1500]),
    ]);
    fs::create_dir(root.path().join("a folder")).unwrap();
    fs::write(root.path().join(temporary_name("half.iso")), b"half").unwrap();
    let outside = folder_with(&[("passwd", b"root:x:0:0")]);
    std::os::unix::fs::symlink(outside.path().join("passwd"), root.path().join("leak"))
        .unwrap();
    std::os::unix::fs::symlink("hello.txt", root.path().join("greeting")).unwrap();
    let server = start(root.path(), &[]);

    let here = tempfile::tempdir().unwrap();
    let listing =
        "        1500  b.bin\n           6  greeting\n           6  hello.txt\n";
    client_in(&server, here.path())
        .write_stdin("dir\n\nget greeting\ndir\n")
        .assert()
        .success()
        .stdout(format!(
            "{listing}got greeting: 6 bytes, SHA-256 {} (verified)\n{listing}",
            sha256(b"hello\n")
        ));
    let empty = tempfile::tempdir().unwrap();
    let server = start(empty.path(), &[]);
    client_in(&server, here.path())
        .arg("dir")
        .assert()
        .success()
        .stdout("(the server shares no files)\n");
}

/// `get ../../etc/passwd` and every other name that is not plain is refused
/// by the server with one clear line; so are missing files, folders and a
/// link that leads out of the root. The session goes on after each, and the
/// exit status says that something failed.
#[cfg(unix)] // symbolic links are made with a Unix call
#[test]
fn refused_names_are_one_clear_error_each_and_the_session_goes_on() {
    let root = folder_with(&[("hello.txt", b"hello\n")]);
    fs::create_dir(root.path().join("sub")).unwrap();
    let outside = folder_with(&[("passwd", b"root:x:0:0")]);
    std::os::unix::fs::symlink(outside.path().join("passwd"), root.path().join("leak"))
        .unwrap();
    let here = folder_with(&[(".profile", b"a hidden file")]);
    let server = start(root.path(), &[]);

    let output = client_in(&server, here.path())
        .write_stdin(
            "get ../../etc/passwd\nget /etc/passwd\nget ..\nget sub\nget missing.txt\n\
             get leak\nput .profile\nput no-such-file\nfly away\nget hello.txt\n",
        )
        .output()
        .unwrap();
    assert!(!output.status.success(), "a failed command fails the run");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "got hello.txt: 6 bytes, SHA-256 {} (verified)\n",
            sha256(b"hello\n")
        )
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let separator = "it contains a path separator ('/' or '\\'); give just the file's name \
                     (hint: give just a file's name, as `dir` lists it)";
    let expected = [
        format!("error: \"../../etc/passwd\" is not a plain file name: {separator}"),
        format!("error: \"/etc/passwd\" is not a plain file name: {separator}"),
        "error: \"..\" is not a plain file name: '.' and '..' name folders, not files \
         (hint: give just a file's name, as `dir` lists it)"
            .to_string(),
        "error: \"sub\" is not a plain file (a folder, a link or a device) \
         (hint: only plain files are transferred; pick another name)"
            .to_string(),
        "error: there is no file \"missing.txt\" (hint: `dir` lists the files you can get)"
            .to_string(),
        "error: \"leak\" is a link to somewhere outside the shared folder, which is not shared \
         (hint: `dir` lists the files you can get)"
            .to_string(),
        "error: \".profile\" is not a plain file name: names starting with '.' are hidden \
         files, which are not shared (hint: give just a file's name, as `dir` lists it)"
            .to_string(),
        "error: could not open no-such-file: not found \
         (hint: a relative path starts in the client's folder (--dir))"
            .to_string(),
        "error: unknown command 'fly' (hint: the commands are dir, get NAME, put PATH and close)"
            .to_string(),
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected);
    assert_eq!(names_in(root.path()), ["hello.txt", "leak", "sub"]);
    assert_eq!(names_in(here.path()), [".profile", "hello.txt"]);
    let log = server.stop().join("\n");
    assert!(
        log.contains("get: refused: \"../../etc/passwd\" is not a plain file name"),
        "{log}"
    );
}

/// The example in the chapter's Protocol section, byte for byte: what a
/// program in another language must send, and what it gets back.
#[test]
fn the_protocol_sections_example_is_exact() {
    let root = folder_with(&[("hello.txt", b"Hello from the shared folder!\n")]);
    let server = start(root.path(), &[]);
    let mut stream = Raw::connect(&server).stream;
    let request = br#"{"command":"get","name":"hello.txt","body_size":0}"#;
    let mut wire = vec![0x00, 0x00, 0x00, 0x32];
    wire.extend_from_slice(request);
    assert_eq!(wire.len(), 54);
    stream.write_all(&wire).unwrap();

    let mut expected = vec![0x00, 0x00, 0x00, 0x1e];
    expected.extend_from_slice(br#"{"status":"ok","body_size":30}"#);
    expected.extend_from_slice(b"Hello from the shared folder!\n");
    expected.extend_from_slice(&[0x00, 0x00, 0x00, 0x5b]);
    expected.extend_from_slice(
        br#"{"sha256":"f9327ab21c0fb3d86a25f93b504aa7c8f8ac6240bc876e94afe5def972fb5531","body_size":0}"#,
    );
    let mut reply = vec![0; expected.len()];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(reply, expected);
}

/// Names a terminal cannot type are refused too: NUL, a backslash path, a
/// newline (which could forge a line in the server's log).
#[test]
fn names_with_nul_backslashes_or_newlines_are_refused() {
    let root = folder_with(&[("hello.txt", b"hello\n")]);
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    for (name, reason) in [
        ("hello.txt\0.jpg", "NUL byte"),
        ("..\\..\\boot.ini", "path separator"),
        ("x\n127.0.0.1:1: fake log line", "control character"),
    ] {
        raw.send(&Request::get(name), b"");
        let reply = raw.reply();
        assert_eq!(reply.status, Status::Error);
        assert!(
            reply.error.as_deref().unwrap().contains(reason),
            "{reply:?}"
        );
        raw.send(&Request::put(name, 1), b"");
        assert_eq!(raw.reply().status, Status::Error, "{name:?}");
    }
    assert_eq!(raw.dir(), r#"[{"name":"hello.txt","size":6}]"#);
}

/// A file over --max-size is refused before a single byte of it is sent: the
/// raw client announces 5 GiB, gets the error at once, and its connection is
/// still good for the next command.
#[test]
fn a_file_over_max_size_is_refused_before_it_is_sent() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &["--max-size", "1KiB"]);
    let here = folder_with(&[("big.bin", &[7; 2048]), ("small.bin", &[7; 1024])]);
    let output = client_in(&server, here.path())
        .write_stdin("put big.bin\nput small.bin\n")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: \"big.bin\" has 2.0 KiB, more than the 1.0 KiB this server accepts \
         (hint: the server's owner can raise --max-size)\n"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("put small.bin: 1024 bytes")
    );

    let mut raw = Raw::connect(&server);
    raw.send(&Request::put("huge.iso", 5 << 30), b"");
    let reply = raw.reply();
    assert_eq!(reply.status, Status::Error);
    assert_eq!(
        reply.error.as_deref(),
        Some("\"huge.iso\" has 5.0 GiB, more than the 1.0 KiB this server accepts")
    );
    assert_eq!(raw.dir(), r#"[{"name":"small.bin","size":1024}]"#);
}

/// A raw client sends a file with the wrong SHA-256 in its trailer: the
/// server keeps nothing (the old file of that name survives), says why, and
/// the session goes on.
#[test]
fn a_wrong_sha256_stores_nothing_and_the_session_goes_on() {
    let root = folder_with(&[("report.txt", b"old report")]);
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    raw.start_put("report.txt", 10);
    raw.send(&Content { body_size: 10 }, b"new report");
    let wrong = sha256(b"something else");
    raw.send(
        &Trailer {
            sha256: wrong.clone(),
            body_size: 0,
        },
        b"",
    );
    let reply = raw.reply();
    assert_eq!(reply.status, Status::Error);
    assert_eq!(
        reply.error.unwrap(),
        format!(
            "\"report.txt\" arrived damaged: its SHA-256 is {} but the sender announced {wrong}; \
             nothing was stored",
            sha256(b"new report")
        )
    );
    assert_eq!(names_in(root.path()), ["report.txt"]);
    assert_eq!(
        fs::read(root.path().join("report.txt")).unwrap(),
        b"old report"
    );

    // The same connection still works, and a right digest is accepted.
    raw.start_put("report.txt", 10);
    raw.send(&Content { body_size: 10 }, b"new report");
    raw.send(
        &Trailer {
            sha256: sha256(b"new report"),
            body_size: 0,
        },
        b"",
    );
    let reply = raw.reply();
    assert_eq!(
        (reply.status, reply.sha256),
        (Status::Ok, Some(sha256(b"new report")))
    );
    assert_eq!(
        fs::read(root.path().join("report.txt")).unwrap(),
        b"new report"
    );
}

/// Two 128-byte blocks with the same MD5 (the collision published by
/// Xiaoyun Wang and colleagues in 2004; `md5sum` prints
/// 79054025255fb1a26e4bc422aef54eb4 for both).
const MD5_TWINS: [&str; 2] = [
    "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89\
     55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b\
     d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0\
     e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70",
    "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89\
     55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b\
     d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0\
     e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70",
];

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("valid hex"))
        .collect()
}

/// Someone swaps a file for its MD5 twin on the way. A check by MD5 would
/// pass it; the SHA-256 in the trailer does not, and nothing is stored.
#[test]
fn a_file_swapped_for_its_md5_twin_is_caught_by_sha256() {
    let [original, twin] = MD5_TWINS.map(from_hex);
    assert_ne!(original, twin);
    assert_ne!(sha256(&original), sha256(&twin));
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    raw.start_put("contract.bin", 128);
    raw.send(&Content { body_size: 128 }, &twin);
    raw.send(
        &Trailer {
            sha256: sha256(&original),
            body_size: 0,
        },
        b"",
    );
    let reply = raw.reply();
    assert_eq!(reply.status, Status::Error);
    assert!(reply.error.unwrap().contains("arrived damaged"));
    assert_eq!(names_in(root.path()), Vec::<String>::new());
}

/// The check works the other way too: a server (here, the test itself)
/// that sends a file whose trailer does not match gets one clear error from
/// the client, and nothing is kept on the client's side.
#[test]
fn the_client_keeps_nothing_when_a_download_does_not_match_its_sha256() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake_server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request: Request = frame::read_header(&mut stream).unwrap().unwrap();
        assert_eq!(request, Request::get("report.txt"));
        frame::write_frame(&mut stream, &Reply::ok(7), b"altered").unwrap();
        let trailer = Trailer {
            sha256: sha256(b"genuine"),
            body_size: 0,
        };
        frame::write_frame(&mut stream, &trailer, b"").unwrap();
        // The client says goodbye on the same connection.
        let close: Request = frame::read_header(&mut stream).unwrap().unwrap();
        assert_eq!(close.command, "close");
        frame::write_frame(&mut stream, &Reply::ok(0), b"").unwrap();
    });
    let here = folder_with(&[("report.txt", b"my old copy")]);
    let output = Command::new(CLIENT)
        .args(["--port", &port.to_string(), "--quiet", "--dir"])
        .arg(here.path())
        .args(["get", "report.txt"])
        .output()
        .unwrap();
    fake_server.join().unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: \"report.txt\" arrived damaged: its SHA-256 is {} but the server announced {}; \
             nothing was kept (hint: get it again)\n",
            sha256(b"altered"),
            sha256(b"genuine")
        )
    );
    assert_eq!(names_in(here.path()), ["report.txt"]);
    assert_eq!(
        fs::read(here.path().join("report.txt")).unwrap(),
        b"my old copy"
    );
}

/// A raw client stops in the middle of an upload, once with a reset and once
/// with a clean close: no file appears, the old file of that name is intact,
/// no temporary is left, and the server keeps serving.
#[test]
fn an_upload_cut_off_halfway_leaves_nothing_and_the_old_file_intact() {
    let root = folder_with(&[("data.bin", b"the old data")]);
    let server = start(root.path(), &[]);
    for rude in [true, false] {
        let mut raw = Raw::connect(&server);
        raw.start_put("data.bin", 1 << 20);
        frame::write_header(&mut raw.stream, &Content { body_size: 1 << 20 }).unwrap();
        raw.stream.write_all(&[1; 300_000]).unwrap();
        wait_for_bytes_in_a_temporary(root.path());
        if rude {
            reset(raw.stream);
        } else {
            drop(raw);
        }
    }
    wait_until("the server saw both uploads end", || {
        let log = server.stderr().join("\n");
        log.contains("reset the connection") && log.contains("only 300000 arrived")
    });
    assert_eq!(names_in(root.path()), ["data.bin"]);
    assert_eq!(
        fs::read(root.path().join("data.bin")).unwrap(),
        b"the old data"
    );
    assert_eq!(
        Raw::connect(&server).dir(),
        r#"[{"name":"data.bin","size":12}]"#
    );
}

/// The real client is killed in the middle of uploading a 3 GiB file: the
/// server drops what arrived, the old file survives, others are served.
#[test]
fn a_client_killed_mid_upload_leaves_no_file_and_the_server_serves_others() {
    let root = folder_with(&[("disk.img", b"the old image")]);
    let here = tempfile::tempdir().unwrap();
    sparse_file(&here.path().join("disk.img"), 3 << 30);
    let server = start(root.path(), &[]);
    let mut uploader = spawn_client(&server, here.path(), &["put", "disk.img"]);
    wait_for_bytes_in_a_temporary(root.path());
    uploader.kill().unwrap();
    uploader.wait().unwrap();

    wait_until("the server dropped the upload", || {
        server
            .stderr()
            .join("\n")
            .contains("the connection ended in the middle of a frame")
    });
    assert_eq!(names_in(root.path()), ["disk.img"]);
    assert_eq!(
        fs::read(root.path().join("disk.img")).unwrap(),
        b"the old image"
    );
    client_in(&server, here.path())
        .arg("dir")
        .assert()
        .success()
        .stdout("          13  disk.img\n");
}

/// The real client is killed in the middle of downloading: it leaves no file
/// under the final name (only a hidden temporary, which a later client
/// removes once it is stale), and the server serves the next client.
#[test]
fn a_client_killed_mid_download_leaves_no_file_and_the_server_serves_others() {
    let root = folder_with(&[("small.txt", b"still here\n")]);
    sparse_file(&root.path().join("movie.mkv"), 3 << 30);
    let here = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    let mut downloader = spawn_client(&server, here.path(), &["get", "movie.mkv"]);
    wait_for_bytes_in_a_temporary(here.path());
    downloader.kill().unwrap();
    downloader.wait().unwrap();

    let left = names_in(here.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        is_temporary(&left[0]),
        "only a hidden temporary is left: {left:?}"
    );
    wait_until("the server noticed the client is gone", || {
        let log = server.stderr().join("\n");
        log.contains("reset the connection")
            || log.contains("the peer has closed the connection")
    });

    // A later client in that folder removes the temporary once it is stale.
    File::options()
        .write(true)
        .open(here.path().join(&left[0]))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    client_in(&server, here.path())
        .args(["get", "small.txt"])
        .assert()
        .success()
        .stderr("removed 1 unfinished temporary file(s) left by a killed client\n");
    assert_eq!(names_in(here.path()), ["small.txt"]);
}

/// The server dies in the middle of a download: the client says so in one
/// line, exits with status 1, and keeps no partial file.
#[test]
fn a_server_killed_mid_download_is_one_clear_error_and_no_partial_file() {
    let root = tempfile::tempdir().unwrap();
    sparse_file(&root.path().join("movie.mkv"), 3 << 30);
    let here = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    let downloader = spawn_client(&server, here.path(), &["get", "movie.mkv"]);
    wait_for_bytes_in_a_temporary(here.path());
    let port = server.port();
    server.stop();

    let (succeeded, stdout, stderr) = finish(downloader);
    assert!(!succeeded);
    assert_eq!(stdout, "");
    contract::assert_one_error_line(&stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: could not get \"movie.mkv\" from 127.0.0.1:{port}: the connection ended in \
             the middle of a frame: the body should have 3221225472 bytes but only "
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            " arrived; nothing was kept (hint: is the server still running? its log says what \
             happened)\n"
        ),
        "{stderr}"
    );
    assert_eq!(names_in(here.path()), Vec::<String>::new());
}

/// A peer that goes silent in the middle of a request is disconnected after
/// --idle-timeout, and what it had sent of a file is dropped.
#[test]
fn a_peer_silent_mid_request_is_disconnected_after_the_idle_timeout() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &["--idle-timeout", "0.3"]);

    let mut half_prefix = Raw::connect(&server);
    half_prefix.stream.write_all(&[0, 0]).unwrap();
    let mut stalled_upload = Raw::connect(&server);
    stalled_upload.start_put("slow.bin", 100);
    frame::write_header(&mut stalled_upload.stream, &Content { body_size: 100 }).unwrap();
    stalled_upload.stream.write_all(&[1; 40]).unwrap();

    for raw in [&mut half_prefix, &mut stalled_upload] {
        let mut rest = Vec::new();
        // The server closes: our read ends (no reply ever comes).
        assert!(matches!(raw.stream.read_to_end(&mut rest), Ok(0)));
    }
    let log = server.stop().join("\n");
    assert_eq!(
        log.matches("idle for 0.3 s, closing the connection")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(names_in(root.path()), Vec::<String>::new());
}

/// A header longer than the 64 KiB cap gets an error reply and the
/// connection is closed; nothing is allocated for it.
#[test]
fn a_header_over_the_cap_gets_an_error_reply_and_the_connection_closes() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    raw.stream.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let reply = raw.reply();
    assert_eq!(reply.status, Status::Error);
    assert!(
        reply
            .error
            .unwrap()
            .contains("a header of 4294967295 bytes, more than the 65536"),
    );
    let mut rest = Vec::new();
    assert_eq!(raw.stream.read_to_end(&mut rest).unwrap(), 0);
}

/// A file frame whose size disagrees with the `put` before it leaves the
/// two sides out of step: the server says why, then closes gently, so that
/// the megabyte still on its way does not turn the close into a reset that
/// would destroy the error reply.
#[test]
fn a_file_frame_that_disagrees_with_its_put_is_refused_and_the_reply_survives() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    raw.start_put("liar.bin", 10);
    raw.send(&Content { body_size: 1 << 20 }, &vec![9; 1 << 20]);
    let reply = raw.reply();
    assert_eq!(reply.status, Status::Error);
    assert_eq!(
        reply.error.as_deref(),
        Some(
            "the frame's header is not valid: put announced 10 bytes but the file's frame has \
             1048576"
        )
    );
    let mut rest = Vec::new();
    assert_eq!(raw.stream.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(names_in(root.path()), Vec::<String>::new());
}

/// 32 clients at once, each uploading one file and downloading another, all
/// distinct: every transfer verifies and every byte lands where it should.
#[test]
fn thirty_two_clients_upload_and_download_at_once_and_all_verify() {
    let root = tempfile::tempdir().unwrap();
    // Two distinct files per client: [to download, to upload].
    let files: Vec<[Vec<u8>; 2]> = (0..32u32)
        .map(|i| {
            [0, 1].map(|kind| {
                (0..100_000u32)
                    .map(|j| (j.wrapping_mul(i * 2 + kind + 1) >> 3) as u8)
                    .collect()
            })
        })
        .collect();
    let mut dirs = Vec::new();
    for (i, [down, up]) in files.iter().enumerate() {
        fs::write(root.path().join(format!("down-{i}.bin")), down).unwrap();
        dirs.push(folder_with(&[(&format!("up-{i}.bin"), up)]));
    }
    let server = start(root.path(), &["--quiet"]);
    let children: Vec<Child> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let mut child = spawn_client(&server, dir.path(), &[]);
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "put up-{i}.bin\nget down-{i}.bin").unwrap();
            child
        })
        .collect();
    for (i, (child, [down, up])) in children.into_iter().zip(&files).enumerate() {
        let (succeeded, stdout, stderr) = finish(child);
        assert!(succeeded, "client {i}: {stderr}");
        assert_eq!(
            stdout,
            format!(
                "put up-{i}.bin: 100000 bytes, SHA-256 {} (verified by the server)\n\
                 got down-{i}.bin: 100000 bytes, SHA-256 {} (verified)\n",
                sha256(up),
                sha256(down)
            )
        );
    }
    for (i, (dir, [down, up])) in dirs.iter().zip(&files).enumerate() {
        let uploaded = fs::read(root.path().join(format!("up-{i}.bin"))).unwrap();
        let downloaded = fs::read(dir.path().join(format!("down-{i}.bin"))).unwrap();
        assert!(uploaded == *up && downloaded == *down, "client {i}");
    }
    assert_eq!(names_in(root.path()).len(), 64, "no temporaries are left");
}

/// The server closes a session left idle too long; the client notices on its
/// next command and connects again by itself.
#[test]
fn the_client_reconnects_after_the_server_closed_an_idle_session() {
    let root = folder_with(&[("a.txt", b"a")]);
    let server = start(root.path(), &["--idle-timeout", "0.3"]);
    let here = tempfile::tempdir().unwrap();
    let mut session = spawn_client(&server, here.path(), &[]);
    let mut stdin = session.stdin.take().unwrap();
    let mut stdout = BufReader::new(session.stdout.take().unwrap());
    writeln!(stdin, "dir").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "           1  a.txt\n");
    assert!(server.wait_for_stderr("idle for 0.3 s", Duration::from_secs(10)));

    writeln!(stdin, "dir\nclose").unwrap();
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "           1  a.txt\nclosed the session\n");
    assert!(session.wait().unwrap().success());
    assert!(server.wait_for_stderr(
        "closed the session after 1 command(s)",
        Duration::from_secs(5)
    ));
}

/// A command given on the command line that fails: one error line, status 1.
#[test]
fn a_failed_command_line_command_is_one_error_line_and_status_1() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &[]);
    client_in(&server, root.path())
        .args(["get", "missing.txt"])
        .assert()
        .failure()
        .stdout("")
        .stderr(
            "error: there is no file \"missing.txt\" (hint: `dir` lists the files you can get)\n",
        );
    client_in(&server, root.path())
        .args(["get", "a", "b"])
        .assert()
        .failure()
        .stderr("error: too many words for one command (hint: quote a name with spaces: get 'my notes.txt')\n");
}

/// Left-over temporaries from a killed run are removed when the server starts.
#[test]
fn the_server_removes_stale_temporaries_when_it_starts() {
    let root = folder_with(&[("keep.txt", b"keep"), (".hidden", b"not ours")]);
    fs::write(root.path().join(temporary_name("keep.txt")), b"half").unwrap();
    let server = start(root.path(), &[]);
    assert!(server.wait_for_stderr(
        "removed 1 unfinished temporary file(s) left by an earlier run",
        Duration::from_secs(5)
    ));
    assert_eq!(names_in(root.path()), [".hidden", "keep.txt"]);
}

/// Without options, the server shares ./served (creating it) and the client
/// works in the current directory.
#[test]
fn by_default_the_server_shares_served_and_the_client_uses_the_current_folder() {
    let work = folder_with(&[("mine.txt", b"mine")]);
    let mut command = Command::new(SERVER);
    command.current_dir(work.path()).args(["--port", "0"]);
    let server = Server::start_command(command).unwrap();
    assert!(work.path().join("served").is_dir());
    assert!(server.wait_for_stderr(
        "sharing the folder served (files up to 4.0 GiB)",
        Duration::from_secs(5)
    ));
    client(CLIENT, &server)
        .current_dir(work.path())
        .args(["put", "mine.txt"])
        .assert()
        .success();
    assert_eq!(
        fs::read(work.path().join("served").join("mine.txt")).unwrap(),
        b"mine"
    );
}

/// The benchmark runs end to end on a small file (its figures mean nothing in
/// a debug build), reports every row, and deletes its test folder.
#[test]
fn the_benchmark_runs_on_a_small_file_and_cleans_up() {
    let work = tempfile::tempdir().unwrap();
    let output = assert_cmd::Command::new(BENCH)
        .args([
            "--size",
            "2MiB",
            "--runs",
            "1",
            "--settle",
            "0.01",
            "--work-dir",
        ])
        .arg(work.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for row in [
        "baseline: io::copy over loopback",
        "lab06-client put",
        "lab06-client get",
        "naive: fs::read + write_all",
        "target: ratio >= 0.90",
    ] {
        assert!(stdout.contains(row), "{row:?} missing from:\n{stdout}");
    }
    assert_eq!(names_in(work.path()), Vec::<String>::new());
}

/// A request header sent a byte every 100 ms is cut at --request-timeout:
/// one error reply, then the server closes; it goes on serving others.
#[test]
fn a_dribbled_request_is_cut_at_the_request_timeout() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path(), &["--request-timeout", "1"]);
    let mut wire = Vec::new();
    frame::write_header(&mut wire, &Request::get(&"x".repeat(100))).unwrap();
    let mut raw = Raw::connect(&server);
    let mut writer = raw.stream.try_clone().unwrap();
    let dribbler = std::thread::spawn(move || {
        peer::dribble(
            &mut writer,
            &wire,
            Duration::from_millis(100),
            Duration::ZERO,
        );
    });
    let started = Instant::now();
    let reply = raw.reply();
    // The whole header takes 14 s at this pace; 8 s leaves room for a busy machine.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, Status::Error);
    let error = reply.error.unwrap();
    assert!(
        error.contains("too slowly: it did not arrive whole within 1 s"),
        "{error}"
    );
    let _ = raw.stream.shutdown(std::net::Shutdown::Both);
    let _ = dribbler.join();
    assert_eq!(Raw::connect(&server).dir(), "[]");
}

/// An upload at 1 KB/s, far below the minimum rate of 16 KiB/s, is cut once
/// its 10 s of grace are over (with the defaults), with an error reply; no
/// file and no temporary are left, and the old file is intact.
#[test]
fn an_upload_at_1_kb_per_second_is_cut_within_30_s_and_leaves_nothing() {
    let root = folder_with(&[("data.bin", b"the old data")]);
    let server = start(root.path(), &[]);
    let mut raw = Raw::connect(&server);
    raw.start_put("data.bin", 1 << 20);
    frame::write_header(&mut raw.stream, &Content { body_size: 1 << 20 }).unwrap();
    let mut writer = raw.stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        while writer.write_all(&[1; 100]).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let reply = raw.reply();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "cut after {took:?}");
    assert_eq!(reply.status, Status::Error);
    let error = reply.error.unwrap();
    assert!(
        error.contains("slower than 16384 bytes/s once its first 10 s"),
        "{error}"
    );
    let _ = raw.stream.shutdown(std::net::Shutdown::Both);
    let _ = trickle.join();
    wait_until("the server closed the session", || {
        server.stderr().join("\n").contains("came too slowly")
    });
    assert_eq!(names_in(root.path()), ["data.bin"]);
    assert_eq!(
        fs::read(root.path().join("data.bin")).unwrap(),
        b"the old data"
    );
}

/// A server (the test) that sends a file a trickle at a time is cut off by
/// the client after --timeout, and nothing is kept.
#[test]
fn the_client_cuts_a_download_that_trickles_in_and_keeps_nothing() {
    let server = FakeServer::start(|mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        let _ = frame::write_header(&mut connection, &Reply::ok(1 << 20));
        peer::dribble(
            &mut connection,
            &[0; 100],
            Duration::from_millis(100),
            Duration::from_secs(30),
        );
    });
    let here = tempfile::tempdir().unwrap();
    // The trickle would hold it 40 s.
    let stderr = peer::assert_gives_up_within(
        server
            .client(CLIENT)
            .args(["--quiet", "--timeout", "1", "--dir"])
            .arg(here.path())
            .args(["get", "slow.bin"]),
        Duration::from_secs(10),
    );
    assert!(stderr.contains("came too slowly"), "{stderr}");
    assert!(stderr.contains("nothing was kept"), "{stderr}");
    assert!(names_in(here.path()).is_empty());
}

/// A download that takes longer than --timeout is not cut for being big:
/// after the grace period, it only has to keep up the minimum rate.
#[test]
fn a_download_longer_than_the_timeout_but_fast_enough_arrives() {
    let file: Vec<u8> = (0..=255u8).cycle().take(200 * 1024).collect();
    let digest = sha256(&file);
    let server = FakeServer::start(move |mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        let _ = frame::write_header(&mut connection, &Reply::ok(file.len() as u64));
        // 100 KiB/s: 2 s for the file, well above 16 KiB/s.
        for piece in file.chunks(10 * 1024) {
            if connection.write_all(piece).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        end_download(&mut connection, sha256(&file));
    });
    let here = tempfile::tempdir().unwrap();
    let output = server
        .client(CLIENT)
        .args(["--quiet", "--timeout", "1", "--dir"])
        .arg(here.path())
        .args(["get", "big.bin"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains(&digest));
    assert_eq!(names_in(here.path()), ["big.bin"]);
}

/// Names in a listing and the words of an error reply come from the server:
/// a forged line or a terminal escape in them is shown, on its own line.
#[test]
fn the_client_prints_forged_names_and_errors_each_on_one_line() {
    let server = FakeServer::start(|mut connection| {
        while let Ok(Some(request)) = frame::read_header::<Request>(&mut connection) {
            let sent = match request.command.as_str() {
                "dir" => {
                    let listing = serde_json::to_vec(&serde_json::json!([
                        {"name": peer::FORGED, "size": 1},
                        {"name": "plain.txt", "size": 2},
                    ]))
                    .unwrap();
                    frame::write_frame(
                        &mut connection,
                        &Reply::ok(listing.len() as u64),
                        &listing,
                    )
                }
                "get" => frame::write_frame(
                    &mut connection,
                    &Reply::error(peer::FORGED, peer::FORGED),
                    b"",
                ),
                _ => frame::write_frame(&mut connection, &Reply::ok(0), b""),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    let here = tempfile::tempdir().unwrap();
    let output = server
        .client(CLIENT)
        .args(["--quiet", "--dir"])
        .arg(here.path())
        .write_stdin("dir\nget plain.txt\n")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    peer::assert_printed_safely(&stdout, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    peer::assert_printed_safely(&stderr, 1);
    contract::assert_one_error_line(&stderr);
}

/// Runs `client` against a server that sent forged text: it must fail with
/// one `error: … (hint: …)` line that shows that text safely (no line of its
/// own, no escape code). Returns the line.
fn fails_with_one_safe_error_line(client: &mut assert_cmd::Command) -> String {
    let output = client.output().expect("the client runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    peer::assert_printed_safely(&stderr, 1);
    contract::assert_one_error_line(&stderr);
    stderr
}

/// The digest in a download's trailer comes from the server too: a forged
/// one is shown in the client's one error line, escapes visible, like a
/// name or an error reply.
#[test]
fn the_client_prints_a_forged_digest_on_its_one_error_line() {
    let server = FakeServer::start(|mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        let _ = frame::write_frame(&mut connection, &Reply::ok(3), b"abc");
        end_download(&mut connection, peer::FORGED.to_string());
    });
    let here = tempfile::tempdir().unwrap();
    let stderr = fails_with_one_safe_error_line(
        server
            .client(CLIENT)
            .args(["--quiet", "--dir"])
            .arg(here.path())
            .args(["get", "abc.txt"]),
    );
    assert!(stderr.contains("arrived damaged"), "{stderr}");
    assert!(names_in(here.path()).is_empty());
}

/// A reply header whose `status` is not one of the Protocol's words is a
/// broken reply; the word the server sent is quoted in the error line, so
/// it must not forge lines or drive the terminal either.
#[test]
fn the_client_prints_a_forged_status_on_its_one_error_line() {
    let server = FakeServer::start(|mut connection| {
        let _ = frame::read_header::<Request>(&mut connection);
        let header =
            serde_json::json!({"status": peer::FORGED, "body_size": 0}).to_string();
        let mut wire = (header.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(header.as_bytes());
        let _ = connection.write_all(&wire);
    });
    let stderr =
        fails_with_one_safe_error_line(server.client(CLIENT).args(["--quiet", "dir"]));
    assert!(stderr.contains("unknown variant"), "{stderr}");
}

labkit::every_lab_tests! {
    lab: "06",
    server: SERVER,
    client: CLIENT,
    client_without_server: ["dir"] => "connection refused",
    server_folder: Some("--root"),
}
