//! The protocol across languages: a Python client and a Python server,
//! written only from the chapter's Protocol section, talk to ours.
//!
//! If the chapter left something out, or our code did something the chapter
//! does not say, these conversations break.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lab05_framed_header::frame;
use lab05_framed_header::protocol::Reply;
use labkit::{Server, client};

const SERVER: &str = env!("CARGO_BIN_EXE_lab05-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_lab05-client");

/// The same requests for every pairing: text, nothing, 3 MB, an echo with
/// non-ASCII text, and a name that is refused.
const ASKS: [&str; 5] = [
    "hello",
    "empty",
    "numbers 3000000",
    "echo d\u{e9}j\u{e0} vu, from one language to another",
    "rm -rf ~",
];

/// One of the Python scripts kept beside the lab.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Whether `python3` can run here; if not, says so, and the test is skipped.
fn python_is_available(test: &str) -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!(
            "SKIPPED {test}: python3 is not installed, so the cross-language check cannot run"
        );
    }
    found
}

/// What our client prints for `ASKS` against `server`.
fn rust_client_output(server: &Server) -> String {
    let output = client(CLIENT, server)
        .args(ASKS)
        .output()
        .expect("lab05-client runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("the client prints UTF-8")
}

/// The Python client, against our server, prints exactly what our client prints.
#[test]
fn python_client_from_the_protocol_section_talks_to_the_rust_server() {
    if !python_is_available(
        "python_client_from_the_protocol_section_talks_to_the_rust_server",
    ) {
        return;
    }
    let server = Server::start(SERVER, [""; 0]).unwrap();
    let ours = rust_client_output(&server);
    let output = Command::new("python3")
        .arg(script("client.py"))
        .args([
            "--host",
            &server.addr().ip().to_string(),
            "--port",
            &server.port(),
        ])
        .args(ASKS)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs = String::from_utf8(output.stdout).unwrap();
    assert_eq!(theirs, ours);
    assert!(
        theirs.contains("numbers 3000000: 3000000 bytes, crc32"),
        "{theirs}"
    );
    assert!(
        theirs.contains("same as sent: \"d\u{e9}j\u{e0} vu"),
        "{theirs}"
    );
    let log = server.stop();
    let whole_conversations = log
        .iter()
        .filter(|line| line.ends_with("closed the connection after 5 request(s)"))
        .count();
    assert_eq!(whole_conversations, 2, "{log:#?}");
}

/// Our client, against the Python server, prints exactly what it prints
/// against ours; and the Python server answers a broken frame with an error
/// reply our frame reader understands.
#[test]
fn rust_client_talks_to_the_python_server() {
    if !python_is_available("rust_client_talks_to_the_python_server") {
        return;
    }
    let rust_server = Server::start(SERVER, [""; 0]).unwrap();
    let expected = rust_client_output(&rust_server);
    let python_server = Server::start("python3", [script("server.py")]).unwrap();
    assert_eq!(rust_client_output(&python_server), expected);

    let mut stream = TcpStream::connect(python_server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
    let (reply, body) = frame::read_frame::<Reply>(&mut stream, 1024)
        .unwrap()
        .unwrap();
    assert!(body.is_empty());
    let reason = reply.error.unwrap();
    assert!(
        reason.contains("4294967295 bytes is not allowed"),
        "{reason}"
    );
    assert!(
        frame::read_frame::<Reply>(&mut stream, 1024)
            .unwrap()
            .is_none()
    );
}
