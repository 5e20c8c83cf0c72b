//! Lab 01's rubric: one message, its reply in capitals, then the close.

use std::io::{self, Read};
use std::net::SocketAddr;
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
