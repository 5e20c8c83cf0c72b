//! The command-line contract's checks, which every lab's rubric starts from,
//! and the helpers that several labs' checks use to judge a program's output.

use std::net::SocketAddr;
use std::time::Duration;

use super::session::{Finding, Session, preview};
use super::{Check, Role};

/// How long a client may run in a check where it should finish quickly.
pub(super) const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The contract's first promise, checked for every lab.
pub(super) const LISTENING_LINE: Check = Check {
    id: "listening-line",
    points: 10,
    role: Role::Server,
    title: "prints `listening on IP:PORT` with the real port as its first stdout line, so others can find it",
    run: listening_line,
};

/// The contract's expected failure on the server side.
pub(super) const BUSY_PORT: Check = Check {
    id: "busy-port",
    points: 5,
    role: Role::Server,
    title: "a second server on a busy port exits non-zero with one `error:` line, not a crash",
    run: busy_port,
};

/// The contract's expected failure on the client side.
pub(super) const CLIENT_WITHOUT_SERVER: Check = Check {
    id: "client-without-server",
    points: 5,
    role: Role::Client,
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
    fails_without_server(session, &["hello"])
}

/// Runs the client with `request`, which must be one it really sends (a
/// request it refuses by itself proves nothing), where no server listens:
/// it must give up with one `error:` line, neither crash nor retry forever.
/// A lab whose client does not take `hello` gives its own request.
pub(super) fn fails_without_server(session: &mut Session, request: &[&str]) -> Result<(), Finding> {
    // The port stays reserved (bound, never listening) for the whole check,
    // so no other check's server can be given it meanwhile.
    let unused = crate::contract::UnusedPort::new();
    let free: SocketAddr = ([127, 0, 0, 1], unused.port()).into();
    session.note(format!("nothing listens on {free}"));
    let run = session.run_client(free, request, "", CLIENT_TIMEOUT)?;
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
