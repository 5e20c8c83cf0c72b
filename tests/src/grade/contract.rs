//! The command-line contract's checks, which every lab's rubric starts from,
//! and the helpers that several labs' checks use to judge a program's output.
//!
//! The contract's checks carry no points. Every lab hands out the code that
//! keeps the contract (`shared/`), so points for it would be points for
//! nothing written; and a server without its listening line fails every
//! other server check anyway. They stay in every report, because a program
//! written in another language has to keep the contract too.

use std::net::SocketAddr;
use std::time::Duration;

use super::session::{Finding, Session, preview};
use super::{CHECK_TIMEOUT, Check, Role};

/// How long a client may run in a check where it should finish quickly.
pub(super) const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A message for `bytes-not-text` (labs 01-03): UTF-8 letters that a text
/// function would upper-case too (`é` to `É`, `ß` to `SS`, which is not even
/// the same length). Only the ASCII letters a-z may change.
pub(super) const NOT_ONLY_ASCII: &[u8] = "héllo wörld ✓ 123, ÿ straße".as_bytes();

/// Labs 01-03's `bytes-not-text`, where `run` sends [`NOT_ONLY_ASCII`] the
/// lab's way and judges the reply with [`changed_more_than_ascii`].
pub(super) const fn bytes_not_text(run: fn(&mut Session) -> Result<(), Finding>) -> Check {
    Check {
        id: "bytes-not-text",
        points: 10,
        role: Role::Server,
        timeout: CHECK_TIMEOUT,
        title: "changes only the ASCII letters a–z, so other bytes (UTF-8 text) come back intact",
        run,
    }
}

/// Adds the likely cause to a `bytes-not-text` finding that has none (a
/// reply that came, but different).
pub(super) fn changed_more_than_ascii(finding: Finding) -> Finding {
    match finding.diagnosis {
        Some(_) => finding,
        None => finding.diagnosis(
            "only the bytes a-z may change: upper-casing decoded text changes é, ÿ and ß too \
             (upper-case the bytes, or only the ASCII letters)",
        ),
    }
}

/// The contract's first promise, checked for every lab.
pub(super) const LISTENING_LINE: Check = Check {
    id: "listening-line",
    points: 0,
    role: Role::Server,
    timeout: CHECK_TIMEOUT,
    title: "prints `listening on IP:PORT` with the real port as its first stdout line, so others can find it",
    run: listening_line,
};

/// The contract's expected failure on the server side.
pub(super) const BUSY_PORT: Check = Check {
    id: "busy-port",
    points: 0,
    role: Role::Server,
    timeout: CHECK_TIMEOUT,
    title: "a second server on a busy port exits non-zero with one `error:` line, not a crash",
    run: busy_port,
};

/// The contract's expected failure on the client side, for a lab whose
/// client really sends `hello` (lab 05 asks for the report of that name).
pub(super) const CLIENT_WITHOUT_SERVER: Check =
    client_without_server(|session| fails_clearly_without_server(session, &["hello"]));

/// The contract's expected failure on the client side, where `run` calls
/// [`fails_clearly_without_server`] with a request this lab's client would
/// really send: an argument the client rejects before it connects would let
/// a client that never gives up on connecting pass.
pub(super) const fn client_without_server(run: fn(&mut Session) -> Result<(), Finding>) -> Check {
    Check {
        id: "client-without-server",
        points: 0,
        role: Role::Client,
        timeout: CHECK_TIMEOUT,
        title: "the client with no server to talk to exits non-zero with one `error:` line, not a crash or a hang",
        run,
    }
}

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
    let second = session
        .run_server_once(&["--port", &port], CLIENT_TIMEOUT)
        .map_err(|finding| {
            finding.diagnosis(format!(
                "the second server kept running although port {port} was taken: does it ignore \
                 --port, or share the port (SO_REUSEPORT)?"
            ))
        })?;
    if second.success {
        return Err(
            Finding::new("a non-zero exit status", "exit status 0").diagnosis(
                "a server that cannot listen has failed: it must say so with its exit status",
            ),
        );
    }
    expect_one_error_line(&second.stderr)
}

/// Runs the client with `request` against a port where nothing listens: it
/// must end by itself, non-zero, with one `error:` line.
pub(super) fn fails_clearly_without_server(
    session: &mut Session,
    request: &[&str],
) -> Result<(), Finding> {
    // The port stays reserved (bound, never listening) for the whole check,
    // so no other check's server can be given it meanwhile.
    let unused = crate::contract::UnusedPort::new();
    let free: SocketAddr = ([127, 0, 0, 1], unused.port()).into();
    session.note(format!("nothing listens on {free}"));
    let run = session
        .run_client(free, request, "", CLIENT_TIMEOUT)
        .map_err(|finding| {
            finding.diagnosis(
                "the client kept going with no server to talk to: a refused connection must end \
                 it with one error line (does it retry forever?)",
            )
        })?;
    if run.success {
        return Err(
            Finding::new("a non-zero exit status", "exit status 0").diagnosis(
                "a client that could not connect has failed: it must say so with its exit status",
            ),
        );
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

/// A client run that printed exactly `expected` on stdout and exited with status 0.
pub(super) fn expect_stdout(stdout: &str, expected: &str, success: bool) -> Result<(), Finding> {
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

/// The last line a program printed on stderr, for a diagnosis: usually its
/// `error:` line.
pub(super) fn last_line(stderr: &str) -> String {
    match stderr.trim_end().lines().last() {
        Some(line) => line.to_string(),
        None => "(nothing on stderr)".to_string(),
    }
}

/// The finding for a client that failed without sending a whole request to
/// the grader playing its server, so that it never met the damaged `what`
/// (reply, file) it was meant to refuse: refusing is not the same as failing.
pub(super) fn never_asked(what: &str, stderr: &str) -> Finding {
    Finding::new(
        format!("the client sends its request and reads the damaged {what}"),
        "no whole request arrived",
    )
    .diagnosis(format!(
        "the client never asked, so it could not refuse the {what}; it said: {}",
        last_line(stderr)
    ))
}
