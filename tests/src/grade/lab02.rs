//! Lab 02's rubric: a conversation loop, and many clients at once.

use std::io::Read;
use std::net::Shutdown;

use super::contract::{CLIENT_TIMEOUT, expect_stdout};
use super::lab01::Conversation;
use super::session::{Finding, REPLY_TIMEOUT, Session, preview, read_failure, write_failure};
use super::{CHECK_TIMEOUT, Check, Role, contract};

/// Lab 02's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        Check {
            id: "every-message",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers every message on one connection, in order (the communication loop)",
            run: every_message,
        },
        contract::bytes_not_text(bytes_not_text),
        Check {
            id: "next-client-after-close",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "serves the next client after one closes (a 0-byte read ends only that conversation)",
            run: next_client_after_close,
        },
        Check {
            id: "closes-after-half-close",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "closes its side soon after the client closes its own, instead of holding the socket open (CLOSE-WAIT)",
            run: closes_after_half_close,
        },
        Check {
            id: "survives-reset",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "keeps serving after a client resets its connection instead of closing it",
            run: survives_reset,
        },
        Check {
            id: "twenty-at-once",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "serves 20 clients connected at once, each getting exactly its own replies",
            run: twenty_at_once,
        },
        contract::BUSY_PORT,
        Check {
            id: "client-each-argument",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends each argument as a message on one connection and prints each reply",
            run: client_each_argument,
        },
        Check {
            id: "client-stdin-lines",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "without arguments, the client sends each stdin line and skips empty ones",
            run: client_stdin_lines,
        },
        Check {
            id: "client-reads-whole-reply",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client reads until the reply is as long as its message, even when it arrives in pieces",
            run: client_reads_whole_reply,
        },
        contract::client_without_server(|session| {
            contract::fails_clearly_without_server(session, &["one", "two words"])
        }),
    ]
}

fn every_message(session: &mut Session) -> Result<(), Finding> {
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

fn bytes_not_text(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    let message = contract::NOT_ONLY_ASCII;
    session
        .exchange(&mut stream, message, &message.to_ascii_uppercase())
        .map_err(contract::changed_more_than_ascii)
}

fn next_client_after_close(session: &mut Session) -> Result<(), Finding> {
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

fn closes_after_half_close(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_server(&[])?;
    let mut stream = session.connect(addr)?;
    session.exchange(&mut stream, b"last words", b"LAST WORDS")?;
    // Closing only our sending side keeps our receiving side open, so the
    // grader can see what the server does about it: its FIN arrives as a
    // 0-byte read. A full close would hide a server that never closes.
    session.note(
        "shutting down the grader's sending side, then waiting for the server to close its own",
    );
    stream
        .shutdown(Shutdown::Write)
        .map_err(|err| Finding::new("a half-close", write_failure(&err)))?;
    let mut rest = Vec::new();
    match stream.take(1024).read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => {
            session.note("the server closed its side");
            Ok(())
        }
        Ok(_) => Err(Finding::new(
            "the end of the stream, with nothing more",
            format!("{} more bytes: {:?}", rest.len(), preview(&rest)),
        )),
        Err(err) if shared::failure::is_timeout(&err) => Err(Finding::new(
            format!(
                "the server closes its side within {} s of the client's",
                REPLY_TIMEOUT.as_secs()
            ),
            "the connection was still open",
        )
        .diagnosis(
            "a 0-byte read means the client is done: leave the communication loop and close \
             the connection (until then it sits in CLOSE-WAIT, holding a socket and maybe a thread)",
        )),
        Err(err) => Err(Finding::new("the end of the stream", read_failure(&err))),
    }
}

fn survives_reset(session: &mut Session) -> Result<(), Finding> {
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

fn twenty_at_once(session: &mut Session) -> Result<(), Finding> {
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

fn client_each_argument(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["one", "two words", "three"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "ONE\nTWO WORDS\nTHREE\n", run.success)
}

fn client_stdin_lines(session: &mut Session) -> Result<(), Finding> {
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

fn client_reads_whole_reply(session: &mut Session) -> Result<(), Finding> {
    super::lab01::expect_reply_read_in_pieces(session, Conversation::Loop)
}
