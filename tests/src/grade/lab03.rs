//! Lab 03's rubric: datagrams, their boundaries, and a client that retries.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use super::contract::{CLIENT_TIMEOUT, expect_one_error_line, expect_stdout};
use super::session::{Finding, Session, preview};
use super::{CHECK_TIMEOUT, Check, Role, contract};

/// Lab 03's rubric, in course order: the contract's checks and the lab's own.
pub fn checks() -> Vec<Check> {
    vec![
        contract::LISTENING_LINE,
        Check {
            id: "datagram-echo",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "answers a datagram with one datagram, the same bytes in capitals, sent back to its sender",
            run: datagram_echo,
        },
        contract::bytes_not_text(bytes_not_text),
        Check {
            id: "kept-boundaries",
            points: 15,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "five datagrams sent back to back get five replies, one per datagram, never merged",
            run: kept_boundaries,
        },
        Check {
            id: "large-datagrams",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "datagrams of 1,025 to 65,507 bytes (the IPv4 maximum) come back whole, not cut to a small buffer",
            run: large_datagrams,
        },
        Check {
            id: "empty-datagram",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "an empty datagram is a real message and gets an empty reply",
            run: empty_datagram,
        },
        Check {
            id: "reply-to-each-sender",
            points: 10,
            role: Role::Server,
            timeout: CHECK_TIMEOUT,
            title: "with two senders taking turns, each reply goes to the address its datagram came from",
            run: reply_to_each_sender,
        },
        Check {
            id: "client-prints-replies",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends each argument as one datagram and prints each reply",
            run: client_prints_replies,
        },
        Check {
            id: "client-ignores-strangers",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client takes its reply only from the server's address, not from whoever sends first",
            run: client_ignores_strangers,
        },
        Check {
            id: "client-largest-datagram",
            points: 5,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends a message of 65,507 bytes (the IPv4 maximum) and prints the whole reply",
            run: client_largest_datagram,
        },
        Check {
            id: "client-retries",
            points: 15,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "the client sends again after each timeout, 3 more times, so a request lost 3 times still gets its reply",
            run: client_retries,
        },
        Check {
            id: "client-gives-up",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "with no server, the client gives up after its retries with one `error:` line instead of hanging",
            run: client_gives_up,
        },
        Check {
            id: "client-drops-late-replies",
            points: 10,
            role: Role::Client,
            timeout: CHECK_TIMEOUT,
            title: "a reply that was already waiting before a request is thrown away, not taken as that request's answer",
            run: client_drops_late_replies,
        },
    ]
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
    socket.send_to(message, server).map_err(|err| {
        session.explain_exit(Finding::new("the datagram can be sent", udp_failure(&err)))
    })?;
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

/// Why a datagram could not be sent, in plain words: on loopback, the only
/// usual cause is an earlier datagram's "port unreachable" coming back.
fn udp_failure(err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::ConnectionRefused {
        "an earlier datagram was refused: nothing receives on the server's port any more"
            .to_string()
    } else {
        format!("the system refused to send it ({err})")
    }
}

fn datagram_echo(session: &mut Session) -> Result<(), Finding> {
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

fn bytes_not_text(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    let message = contract::NOT_ONLY_ASCII;
    datagram_round_trip(
        session,
        &socket,
        server,
        message,
        &message.to_ascii_uppercase(),
    )
    .map_err(contract::changed_more_than_ascii)
}

fn kept_boundaries(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    let messages = ["a", "bb", "ccc", "dddd", "eeeee"];
    session.note("sending five datagrams back to back, then reading five replies");
    for message in messages {
        socket.send_to(message.as_bytes(), server).map_err(|err| {
            session.explain_exit(Finding::new("the datagram can be sent", udp_failure(&err)))
        })?;
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

/// The sizes `large-datagrams` sends: just past the tutorials' 1024-byte
/// buffer, past a 4 KiB and a 64 KiB-minus-a-little buffer, and the largest
/// datagram IPv4 can carry.
const LARGE_SIZES: [usize; 4] = [1_025, 4_097, 65_000, MAX_DATAGRAM];

/// The largest UDP payload over IPv4: 65,535 minus 20 bytes of IP header and 8 of UDP.
const MAX_DATAGRAM: usize = 65_507;

fn large_datagrams(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    // A receive buffer that holds the largest reply several times over: the
    // kernel's default may be only a little over 200 KiB, and each queued
    // datagram costs more than its payload.
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(4 * MAX_DATAGRAM)
        .map_err(|err| Finding::new("a large receive buffer (SO_RCVBUF)", err.to_string()))?;
    for size in LARGE_SIZES {
        // Letters and digits, repeating: a reply cut at any point differs
        // from the expected bytes. (Other bytes are bytes-not-text's job.)
        let message: Vec<u8> = "datagram-0123456789-".bytes().cycle().take(size).collect();
        datagram_round_trip(
            session,
            &socket,
            server,
            &message,
            &message.to_ascii_uppercase(),
        )
        .map_err(|finding| match finding.diagnosis {
            Some(_) => finding,
            None => finding.diagnosis(format!(
                "the {size}-byte datagram came back changed: is the server's receive buffer \
                     smaller than {MAX_DATAGRAM} bytes? A datagram longer than the buffer is cut"
            )),
        })?;
    }
    Ok(())
}

fn empty_datagram(session: &mut Session) -> Result<(), Finding> {
    let server = session.start_server(&[])?;
    let socket = session.udp_socket()?;
    datagram_round_trip(session, &socket, server, b"", b"")
}

fn reply_to_each_sender(session: &mut Session) -> Result<(), Finding> {
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

fn client_prints_replies(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let run = session.run_client(addr, &["one", "two words"], "", CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "ONE\nTWO WORDS\n", run.success)
}

fn client_ignores_strangers(session: &mut Session) -> Result<(), Finding> {
    let (server, addr) = session.udp_peer()?;
    let stranger = session.udp_socket()?;
    session.note(format!(
        "the grader plays the server on {addr}; before its reply, another socket of the grader's \
         sends the client a datagram of its own"
    ));
    server
        .set_read_timeout(Some(session.patient(CLIENT_TIMEOUT)))
        .map_err(|err| Finding::new("a receive timeout", err.to_string()))?;
    // The grader's own failures show in what the client prints. Both
    // datagrams are queued for the client in the order they are sent.
    let grader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buffer = vec![0; 65_536];
        let (n, client) = server.recv_from(&mut buffer)?;
        stranger.send_to(b"NOT FROM THE SERVER", client)?;
        server.send_to(&buffer[..n].to_ascii_uppercase(), client)?;
        Ok(())
    });
    let run = session.run_client(addr, &["hello"], "", CLIENT_TIMEOUT)?;
    let _ = grader.join();
    expect_stdout(&run.stdout, "HELLO\n", run.success).map_err(|finding| {
        finding.diagnosis(
            "a datagram can come from anyone: take a reply only when recvfrom says it came from \
             the server's address, and ignore the rest",
        )
    })
}

fn client_largest_datagram(session: &mut Session) -> Result<(), Finding> {
    let addr = session.start_reference_server(&[])?;
    let message: String = "datagram-0123456789-"
        .chars()
        .cycle()
        .take(MAX_DATAGRAM)
        .collect();
    // On stdin, not as an argument, so the transcript's command line stays short.
    session.note(format!(
        "the client gets one line of {MAX_DATAGRAM} bytes on stdin: {:?}",
        preview(message.as_bytes())
    ));
    let run = session.run_client(addr, &[], &(message.clone() + "\n"), CLIENT_TIMEOUT)?;
    let expected = message.to_uppercase() + "\n";
    if run.stdout != expected {
        let finding = Finding::new(
            format!("stdout: the {MAX_DATAGRAM}-byte reply and a newline"),
            format!(
                "{} bytes: {:?}",
                run.stdout.len(),
                preview(run.stdout.as_bytes())
            ),
        );
        return Err(if run.stdout.len() < expected.len() {
            finding.diagnosis(format!(
                "a reply is as long as its request, up to {MAX_DATAGRAM} bytes: receive into a \
                 buffer that large, or the kernel cuts the reply and the rest is lost"
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

/// The requests `client-retries` gives the client, and how many copies of
/// each the grader, playing a server on a lossy network, ignores before it
/// answers: the second is lost as often as the Protocol's client retries.
const LOSSES: [(&str, usize); 3] = [("first", 1), ("second", 3), ("third", 0)];

/// How long `client-retries` gives the client: 4 tries of the second request
/// and 2 of the first take 6 timeouts (ours: 1 s each).
const RETRYING_CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

fn client_retries(session: &mut Session) -> Result<(), Finding> {
    let (server, addr) = session.udp_peer()?;
    session.note(format!(
        "the grader plays a server on {addr} whose datagrams get lost: it ignores the first copy \
         of `first` and the first 3 copies of `second`, and answers the next"
    ));
    let wait = session.patient(RETRYING_CLIENT_TIMEOUT);
    server
        .set_read_timeout(Some(wait))
        .map_err(|err| Finding::new("a receive timeout", err.to_string()))?;
    // How many copies of each request arrived; the thread counts them as they
    // come and ends at the end of the conversation or at its timeout.
    let copies = Arc::new(Mutex::new([0usize; LOSSES.len()]));
    let counted = Arc::clone(&copies);
    thread::spawn(move || -> std::io::Result<()> {
        let mut buffer = vec![0; 65_536];
        for (index, (request, lost)) in LOSSES.iter().enumerate() {
            loop {
                let (n, client) = server.recv_from(&mut buffer)?;
                // A copy of an earlier request, sent while its reply was on
                // its way, gets no answer: that would be a late reply.
                if &buffer[..n] != request.as_bytes() {
                    continue;
                }
                let copy = {
                    let mut copies = counted.lock().map_err(|_| std::io::ErrorKind::Other)?;
                    copies[index] += 1;
                    copies[index]
                };
                if copy > *lost {
                    server.send_to(&buffer[..n].to_ascii_uppercase(), client)?;
                    break;
                }
            }
        }
        Ok(())
    });
    let requests = LOSSES.map(|(request, _)| request);
    let run = session.run_client(addr, &requests, "", RETRYING_CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "FIRST\nSECOND\nTHIRD\n", run.success).map_err(|finding| {
        let copies = copies.lock().map(|copies| *copies).unwrap_or_default();
        let short = LOSSES
            .iter()
            .zip(copies)
            .find(|((_, lost), copies)| *copies <= *lost);
        match short {
            Some(((request, lost), copies)) => finding.diagnosis(format!(
                "`{request}` was lost {lost} time(s) and the grader received only {copies} \
                 cop{}: a lost datagram is never answered, so the client must time out and send \
                 it again, 3 more times before it gives up",
                if copies == 1 { "y" } else { "ies" }
            )),
            None => finding,
        }
    })
}

fn client_gives_up(session: &mut Session) -> Result<(), Finding> {
    // Kept open to the end: bound, it takes the datagrams and says nothing.
    let (_nobody, addr) = session.udp_peer()?;
    session.note(format!("{addr} receives datagrams but never answers"));
    // Our client gives up after 4 tries of 1 s; the limit leaves room for a
    // slower retry plan, and for a busy machine.
    let run = session.run_client(addr, &["anyone there?"], "", Duration::from_secs(15))?;
    if run.success {
        return Err(Finding::new("a non-zero exit status", "exit status 0"));
    }
    expect_one_error_line(&run.stderr)
}

/// The grader plays a server whose first reply comes twice, as when a reply
/// is slow and the retry is answered too. The client's second line reaches
/// its stdin only once both copies are waiting at its socket, so the client
/// meets the stale copy every run, before it sends its next request.
fn client_drops_late_replies(session: &mut Session) -> Result<(), Finding> {
    let (server, addr) = session.udp_peer()?;
    session.note(format!(
        "the grader plays a server on {addr} that answers `first` twice; the client's next \
         line, `second`, is written to its stdin only after both answers were sent"
    ));
    let (both_sent, gate) = mpsc::channel();
    thread::spawn(move || -> std::io::Result<()> {
        let mut buffer = vec![0; 65_536];
        let (n, client) = server.recv_from(&mut buffer)?;
        let reply = buffer[..n].to_ascii_uppercase();
        server.send_to(&reply, client)?;
        server.send_to(&reply, client)?;
        let _ = both_sent.send(());
        loop {
            let (n, client) = server.recv_from(&mut buffer)?;
            if &buffer[..n] == b"second" {
                server.send_to(b"SECOND", client)?;
                return Ok(());
            }
        }
    });
    let run = session.run_client_gated(addr, &[], ("first\n", gate, "second\n"), CLIENT_TIMEOUT)?;
    expect_stdout(&run.stdout, "FIRST\nSECOND\n", run.success).map_err(|finding| {
        if run.stdout.lines().nth(1) == Some("FIRST") {
            finding.diagnosis(
                "the second copy of FIRST was already waiting when the client sent `second`, and it \
                 was printed as that request's answer: before each request, receive and throw away \
                 whatever is waiting (a non-blocking receive until it would block)",
            )
        } else {
            finding
        }
    })
}
