//! Lab 01's rubric: one message, its reply in capitals, then the close.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread;

use super::contract::{CLIENT_TIMEOUT, expect_stdout};
use super::session::{
    Finding, PIECE_PAUSE, REPLY_TIMEOUT, Session, accept_within, preview, read_failure,
    write_in_pieces,
};
use super::{CHECK_TIMEOUT, Check, Role, contract};

/// Lab 01's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        Check {
            id: "echo-capitals",
            points: 20,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers one message with the same bytes in capitals, then closes the connection",
            run: echo_capitals,
        },
        contract::bytes_not_text(bytes_not_text),
        contract::BUSY_PORT,
        Check {
            id: "client-prints-reply",
            points: 20,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends its message and prints the server's reply",
            run: client_prints_reply,
        },
        Check {
            id: "client-reads-whole-reply",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client reads until the server closes, even when the reply arrives in pieces",
            run: client_reads_whole_reply,
        },
        Check {
            id: "client-keeps-64-kib",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client prints a reply of 64 KiB, the longest the Protocol has it keep, whole",
            run: client_keeps_64_kib,
        },
        contract::client_without_server(|session| {
            contract::fails_clearly_without_server(session, &["grading, one two"])
        }),
    ]
}

fn echo_capitals(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    expect_reply_then_close(session, addr, b"hello, sockets", b"HELLO, SOCKETS")
}

fn bytes_not_text(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let message = contract::NOT_ONLY_ASCII;
    expect_reply_then_close(session, addr, message, &message.to_ascii_uppercase())
        .map_err(contract::changed_more_than_ascii)
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
        Err(err) => Err(session.explain_exit(
            Finding::new("the connection closed after the reply", read_failure(&err))
                .diagnosis("lab 01's server closes the connection after its reply: that is how the client knows the reply is complete"),
        )),
    }
}

fn client_prints_reply(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["grading, one two"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "GRADING, ONE TWO\n", run.success)
}

fn client_reads_whole_reply(session: &mut Session) -> Result<(), Finding> {
    expect_reply_read_in_pieces(session, Conversation::OneMessage)
}

/// The longest reply the Protocol's client keeps whole: 64 KiB.
const LONGEST_REPLY: usize = 64 * 1024;

/// The grader plays a server that answers with a reply of exactly
/// [`LONGEST_REPLY`] bytes, then closes: the student's client must print all
/// of it. A client that stops early (at 1024 bytes, trusting this lab's server
/// to answer no more, or at a cap of its own) keeps only a part.
fn client_keeps_64_kib(session: &mut Session) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    // Capitals with a count every 16 bytes, so a cut shows where it fell.
    let reply: Vec<u8> = (0..LONGEST_REPLY / 16)
        .flat_map(|line| format!("{line:>5} ABCDEFGHIJ").into_bytes())
        .collect();
    session.note(format!(
        "the grader plays the server on {addr}: it answers with {} bytes, then closes",
        reply.len()
    ));
    let wait = session.patient(CLIENT_TIMEOUT);
    let sent = reply.clone();
    let server = thread::spawn(move || -> io::Result<()> {
        let mut conn = accept_within(&listener, wait)?;
        conn.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let mut message = [0; 1024];
        let _ = conn.read(&mut message)?;
        conn.write_all(&sent)?;
        // Close only our sending side and wait for the client's close, so
        // that no unread byte of the client's turns our close into a reset.
        conn.shutdown(Shutdown::Write)?;
        conn.read_to_end(&mut Vec::new()).map(|_| ())
    });
    let run = session.run_client(addr, &["a long reply"], "", CLIENT_TIMEOUT)?;
    let _ = server.join();
    let printed = run.stdout.as_bytes();
    let whole = printed.strip_suffix(b"\n") == Some(&reply[..]);
    if !whole {
        let kept = printed.strip_suffix(b"\n").unwrap_or(printed);
        let finding = Finding::new(
            format!(
                "stdout: the {} bytes of the reply and a newline",
                reply.len()
            ),
            format!("{} bytes: {:?}", printed.len(), preview(printed)),
        );
        return Err(if reply.starts_with(kept) && !kept.is_empty() {
            finding.diagnosis(format!(
                "the client kept only the first {} bytes: a client keeps a reply of up to \
                 64 KiB (65536 bytes) whole, reading until the server closes",
                kept.len()
            ))
        } else {
            finding
        });
    }
    if !run.success {
        return Err(Finding::new("exit status 0", "a non-zero exit status"));
    }
    Ok(())
}

/// How the grader, playing the server, ends a conversation.
pub(super) enum Conversation {
    /// Lab 01: one read, one reply, then the close.
    OneMessage,
    /// Lab 02: a reply to every read, until the client closes.
    Loop,
}

/// The grader plays the server and sends each reply in capitals, in three
/// pieces half a second apart; the student's client, given one message,
/// must print the whole reply. The Protocol's server answers each read as it
/// comes, so a reply can arrive in pieces: here it always does.
pub(super) fn expect_reply_read_in_pieces(
    session: &mut Session,
    conversation: Conversation,
) -> Result<(), Finding> {
    let (listener, addr) = session.listen_as_grader()?;
    session.note(format!(
        "the grader plays the server on {addr}: it answers in capitals, in 3 pieces {} ms apart",
        PIECE_PAUSE.as_millis()
    ));
    // The grader's own failures show in what the client prints.
    let wait = session.patient(CLIENT_TIMEOUT);
    let server = thread::spawn(move || -> io::Result<()> {
        let mut conn = accept_within(&listener, wait)?;
        conn.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let mut buffer = [0; 1024];
        loop {
            let n = conn.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            write_in_pieces(&mut conn, &buffer[..n].to_ascii_uppercase(), 3, PIECE_PAUSE)?;
            if let Conversation::OneMessage = conversation {
                return Ok(());
            }
        }
    });
    let run = session.run_client(addr, &["a reply in pieces"], "", CLIENT_TIMEOUT)?;
    let _ = server.join();
    expect_stdout(&run.stdout, "A REPLY IN PIECES\n", run.success).map_err(|finding| {
        finding.diagnosis(
            "the reply came in three pieces: one read returns only what has arrived, so keep \
             reading until the whole reply is in",
        )
    })
}
