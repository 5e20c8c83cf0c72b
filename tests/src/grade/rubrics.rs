//! The checks of each lab, with their points.
//!
//! Each check follows its chapter's Protocol section and the command-line
//! contract, nothing more: a program in any language that keeps them passes.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use crate::labs::Lab;

use super::Check;
use super::session::{Finding, Session, preview};

/// How long a client may run in a check where it should finish quickly.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The rubric of `lab`: its own checks, plus earlier checks its programs must
/// still pass.
pub fn rubric(lab: &Lab) -> Vec<Check> {
    match lab.number.as_str() {
        "01" => vec![
            LISTENING_LINE,
            Check {
                id: "echo-capitals",
                points: 20,
                title: "answers one message with the same bytes in capitals, then closes the connection",
                run: lab01_echo_capitals,
            },
            Check {
                id: "bytes-not-text",
                points: 10,
                title: "changes only the ASCII letters a–z, so other bytes (UTF-8 text) come back intact",
                run: lab01_bytes_not_text,
            },
            BUSY_PORT,
            Check {
                id: "client-prints-reply",
                points: 20,
                title: "the client sends its message and prints the server's reply",
                run: lab01_client_prints_reply,
            },
            CLIENT_WITHOUT_SERVER,
        ],
        "02" => vec![
            LISTENING_LINE,
            Check {
                id: "every-message",
                points: 15,
                title: "answers every message on one connection, in order (the communication loop)",
                run: lab02_every_message,
            },
            Check {
                id: "next-client-after-close",
                points: 15,
                title: "serves the next client after one closes (a 0-byte read ends only that conversation)",
                run: lab02_next_client_after_close,
            },
            Check {
                id: "survives-reset",
                points: 15,
                title: "keeps serving after a client resets its connection instead of closing it",
                run: lab02_survives_reset,
            },
            Check {
                id: "twenty-at-once",
                points: 15,
                title: "serves 20 clients connected at once, each getting exactly its own replies",
                run: lab02_twenty_at_once,
            },
            BUSY_PORT,
            Check {
                id: "client-each-argument",
                points: 10,
                title: "the client sends each argument as a message on one connection and prints each reply",
                run: lab02_client_each_argument,
            },
            Check {
                id: "client-stdin-lines",
                points: 10,
                title: "without arguments, the client sends each stdin line and skips empty ones",
                run: lab02_client_stdin_lines,
            },
            CLIENT_WITHOUT_SERVER,
        ],
        "03" => vec![
            LISTENING_LINE,
            Check {
                id: "datagram-echo",
                points: 15,
                title: "answers a datagram with one datagram, the same bytes in capitals, sent back to its sender",
                run: lab03_datagram_echo,
            },
            Check {
                id: "kept-boundaries",
                points: 15,
                title: "five datagrams sent back to back get five replies, one per datagram, never merged",
                run: lab03_kept_boundaries,
            },
            Check {
                id: "empty-datagram",
                points: 10,
                title: "an empty datagram is a real message and gets an empty reply",
                run: lab03_empty_datagram,
            },
            Check {
                id: "reply-to-each-sender",
                points: 10,
                title: "with two senders taking turns, each reply goes to the address its datagram came from",
                run: lab03_reply_to_each_sender,
            },
            Check {
                id: "client-prints-replies",
                points: 10,
                title: "the client sends each argument as one datagram and prints each reply",
                run: lab03_client_prints_replies,
            },
            Check {
                id: "client-retries",
                points: 15,
                title: "the client sends again after a timeout, so a lost datagram still gets its reply",
                run: lab03_client_retries,
            },
            Check {
                id: "client-gives-up",
                points: 10,
                title: "with no server, the client gives up after its retries with one `error:` line instead of hanging",
                run: lab03_client_gives_up,
            },
        ],
        "04" => [LISTENING_LINE, BUSY_PORT, CLIENT_WITHOUT_SERVER]
            .into_iter()
            .chain(super::streams::lab04())
            .collect(),
        "05" => [LISTENING_LINE, BUSY_PORT, CLIENT_WITHOUT_SERVER]
            .into_iter()
            .chain(super::streams::lab05())
            .collect(),
        "06" => [LISTENING_LINE, BUSY_PORT, CLIENT_WITHOUT_SERVER]
            .into_iter()
            .chain(super::files::lab06())
            .collect(),
        _ => Vec::new(),
    }
}

/// The option naming the folder a lab's server serves, for labs that have one:
/// every server a check starts gets a scratch folder unless the check gives it
/// its own, so grading never creates a folder where it runs.
pub fn server_folder_option(lab: &Lab) -> Option<&'static str> {
    (lab.number == "06").then_some("--root")
}

/// The contract's first promise, checked for every lab.
const LISTENING_LINE: Check = Check {
    id: "listening-line",
    points: 10,
    title: "prints `listening on IP:PORT` with the real port as its first stdout line, so others can find it",
    run: listening_line,
};

/// The contract's expected failure on the server side.
const BUSY_PORT: Check = Check {
    id: "busy-port",
    points: 5,
    title: "a second server on a busy port exits non-zero with one `error:` line, not a crash",
    run: busy_port,
};

/// The contract's expected failure on the client side.
const CLIENT_WITHOUT_SERVER: Check = Check {
    id: "client-without-server",
    points: 5,
    title: "the client with no server to talk to exits non-zero with one `error:` line, not a crash or a hang",
    run: client_without_server,
};

fn listening_line(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    if addr.port() == 0 {
        return Err(Finding::new("the real port the OS chose", "port 0")
            .diagnosis("print the address the socket is bound to (local_addr / getsockname), not the one asked for"));
    }
    Ok(())
}

fn busy_port(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let port = addr.port().to_string();
    let second = session.run_server_once(&["--port", &port], CLIENT_TIMEOUT)?;
    if second.success {
        return Err(Finding::new("a non-zero exit status", "exit status 0"));
    }
    expect_one_error_line(&second.stderr)
}

fn client_without_server(session: &mut Session) -> Result<(), Finding> {
    // The port stays reserved (bound, never listening) for the whole check,
    // so no other check's server can be given it meanwhile.
    let unused = crate::contract::UnusedPort::new();
    let free: SocketAddr = ([127, 0, 0, 1], unused.port()).into();
    session.note(format!("nothing listens on {free}"));
    let run = session.run_client(free, &["hello"], "", CLIENT_TIMEOUT)?;
    if run.success {
        return Err(Finding::new("a non-zero exit status", "exit status 0"));
    }
    expect_one_error_line(&run.stderr)
}

/// Expected failures end in exactly one `error: …` line and no panic.
pub(super) fn expect_one_error_line(stderr: &str) -> Result<(), Finding> {
    let errors = stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .count();
    if stderr.contains("panicked") || stderr.contains("Traceback") {
        return Err(
            Finding::new("one `error: …` line", "a crash (panic or traceback)")
                .diagnosis("an expected failure is not a bug: catch it and print one line"),
        );
    }
    if errors != 1
        || !stderr
            .trim_end()
            .lines()
            .last()
            .is_some_and(|line| line.starts_with("error: "))
    {
        return Err(Finding::new(
            "exactly one line starting with `error: ` on stderr, as the last line",
            format!("{errors} such line(s) in: {:?}", preview(stderr.as_bytes())),
        ));
    }
    Ok(())
}

fn lab01_echo_capitals(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    expect_reply_then_close(session, addr, b"hello, sockets", b"HELLO, SOCKETS")
}

fn lab01_bytes_not_text(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let message = "héllo wörld ✓ 123".as_bytes();
    expect_reply_then_close(session, addr, message, &message.to_ascii_uppercase())
}

/// Lab 01's exchange: one message, the whole reply, then the end of the stream.
fn expect_reply_then_close(
    session: &mut Session,
    addr: SocketAddr,
    message: &[u8],
    expected: &[u8],
) -> Result<(), Finding> {
    let mut stream = session.connect(addr)?;
    session.exchange(&mut stream, message, expected)?;
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => Ok(()),
        Ok(_) => Err(Finding::new(
            "the connection closed after the reply",
            format!("{} more bytes: {:?}", rest.len(), preview(&rest)),
        )),
        Err(err) => Err(Finding::new("the connection closed after the reply", err.to_string())
            .diagnosis("lab 01's server closes the connection after its reply: that is how the client knows the reply is complete")),
    }
}

fn lab01_client_prints_reply(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["grading, one two"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "GRADING, ONE TWO\n", run.success)
}

fn expect_stdout(stdout: &str, expected: &str, success: bool) -> Result<(), Finding> {
    if stdout != expected {
        return Err(Finding::new(
            format!("stdout {expected:?}"),
            format!("{stdout:?}"),
        ));
    }
    if !success {
        return Err(Finding::new("exit status 0", "a non-zero exit status"));
    }
    Ok(())
}

fn lab02_every_message(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    for message in ["first message", "second", "the third and last"] {
        session.exchange(
            &mut stream,
            message.as_bytes(),
            message.to_uppercase().as_bytes(),
        )?;
    }
    Ok(())
}

fn lab02_next_client_after_close(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    for client in 1..=3 {
        let mut stream = session.connect(addr)?;
        let message = format!("client {client} says hi");
        session.exchange(
            &mut stream,
            message.as_bytes(),
            message.to_uppercase().as_bytes(),
        )?;
        session.note(format!("client {client} closes its connection"));
    }
    Ok(())
}

fn lab02_survives_reset(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut rude = session.connect(addr)?;
    session.exchange(&mut rude, b"about to crash", b"ABOUT TO CRASH")?;
    session.note("resetting the connection (close with SO_LINGER 0 sends RST)");
    crate::process::reset(rude);
    let mut next = session.connect(addr).map_err(|finding| {
        finding.diagnosis(
            "the server stopped accepting after a reset: is a reset error ending the whole server?",
        )
    })?;
    session.exchange(&mut next, b"still there?", b"STILL THERE?")
}

fn lab02_twenty_at_once(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(session.connect(addr)?);
    }
    session.note("20 clients are connected; each now sends in turn, all staying connected");
    for round in 0..2 {
        for (index, stream) in streams.iter_mut().enumerate() {
            let message = format!("client {index} round {round}");
            session
                .exchange(stream, message.as_bytes(), message.to_uppercase().as_bytes())
                .map_err(|finding| {
                    if index > 0 && round == 0 {
                        finding.diagnosis("only the first client was served: is the server one-client-at-a-time (no threads)?")
                    } else {
                        finding
                    }
                })?;
        }
    }
    Ok(())
}

fn lab02_client_each_argument(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["one", "two words", "three"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "ONE\nTWO WORDS\nTHREE\n", run.success)
}

fn lab02_client_stdin_lines(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &[], "typed one\n\ntyped two\n", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "TYPED ONE\nTYPED TWO\n", run.success).map_err(|finding| {
        if run.stdout.contains("\n\n") || run.stdout.is_empty() {
            finding.diagnosis("an empty line must not be sent: a write of 0 bytes sends nothing, so no reply can come")
        } else {
            finding
        }
    })
}

/// Sends `message` from `socket` to `server` and expects exactly `expected` back from it.
fn datagram_round_trip(
    session: &Session,
    socket: &std::net::UdpSocket,
    server: SocketAddr,
    message: &[u8],
    expected: &[u8],
) -> Result<(), Finding> {
    session.note(format!(
        "sending a datagram of {} bytes: {:?}",
        message.len(),
        preview(message)
    ));
    socket
        .send_to(message, server)
        .map_err(|err| Finding::new("the datagram can be sent", err.to_string()))?;
    let mut buffer = vec![0; 65_536];
    let (n, from) = socket.recv_from(&mut buffer).map_err(|_| {
        Finding::new(
            format!("a reply datagram {:?}", preview(expected)),
            "no datagram within 5 s",
        )
        .diagnosis("no reply within 5 s: is the reply sent to the address the datagram came from?")
    })?;
    if from != server {
        return Err(Finding::new(
            format!("a reply from {server}"),
            format!("a reply from {from}"),
        ));
    }
    if &buffer[..n] != expected {
        return Err(Finding::new(
            format!("the datagram {:?}", preview(expected)),
            format!("{:?}", preview(&buffer[..n])),
        ));
    }
    Ok(())
}

fn lab03_datagram_echo(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    datagram_round_trip(
        session,
        &socket,
        server,
        "hello, datagrams ✓".as_bytes(),
        "HELLO, DATAGRAMS ✓".as_bytes(),
    )
}

fn lab03_kept_boundaries(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    let messages = ["a", "bb", "ccc", "dddd", "eeeee"];
    session.note("sending five datagrams back to back, then reading five replies");
    for message in messages {
        socket
            .send_to(message.as_bytes(), server)
            .map_err(|err| Finding::new("the datagram can be sent", err.to_string()))?;
    }
    let mut buffer = vec![0; 65_536];
    for message in messages {
        let expected = message.to_uppercase();
        let (n, _) = socket.recv_from(&mut buffer).map_err(|_| {
            Finding::new(format!("the reply {expected:?}"), "no datagram within 5 s")
        })?;
        if buffer[..n] != *expected.as_bytes() {
            return Err(Finding::new(
                format!("the reply {expected:?}"),
                format!("{:?}", preview(&buffer[..n])),
            ));
        }
    }
    Ok(())
}

fn lab03_empty_datagram(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    datagram_round_trip(session, &socket, server, b"", b"")
}

fn lab03_reply_to_each_sender(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let first = session.udp_socket()?;
    let second = session.udp_socket()?;
    for round in 0..2 {
        for (name, socket) in [("first", &first), ("second", &second)] {
            let message = format!("{name} sender, round {round}");
            datagram_round_trip(
                session,
                socket,
                server,
                message.as_bytes(),
                message.to_uppercase().as_bytes(),
            )?;
        }
    }
    Ok(())
}

fn lab03_client_prints_replies(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["one", "two words"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "ONE\nTWO WORDS\n", run.success)
}

fn lab03_client_retries(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&["--drop-every", "2"])?;
    session.note("this server ignores every 2nd datagram it receives, as if it were lost");
    let run = session.run_client(addr, &["first", "second", "third"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "FIRST\nSECOND\nTHIRD\n", run.success).map_err(|finding| {
        finding.diagnosis(
            "a lost datagram is never answered: the client must time out and send it again",
        )
    })
}

fn lab03_client_gives_up(session: &mut Session) -> Result<(), Finding> {
    let nobody = session.udp_socket()?;
    let addr = nobody
        .local_addr()
        .map_err(|err| Finding::new("a bound UDP socket", err.to_string()))?;
    session.note(format!("{addr} receives datagrams but never answers"));
    // Our client gives up after 4 tries of 1 s; the limit leaves room for a
    // slower retry plan, and for a busy machine.
    let run = session.run_client(addr, &["anyone there?"], "", Duration::from_secs(15))?;
    if run.success {
        return Err(Finding::new("a non-zero exit status", "exit status 0"));
    }
    expect_one_error_line(&run.stderr)
}
