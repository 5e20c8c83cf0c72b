//! Expected failures, reported as one line a student can act on.
//!
//! A refused connection or a busy port is not a bug in the program, so it must
//! not look like one: no panic, no backtrace, no `Os { code: 111, .. }`. Every
//! binary's `main` calls [`run`], and every fallible step returns a [`Failure`]
//! that carries what went wrong and, where we can guess, what to do about it.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// What went wrong, and a hint on how to fix it.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
}

impl Failure {
    /// A failure with a message and no hint yet.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
        }
    }

    /// A failed I/O step: `doing` says what we were trying to do, in words a
    /// student recognises ("read from 127.0.0.1:50312").
    pub fn io(doing: impl fmt::Display, err: &io::Error) -> Self {
        Failure::new(format!("could not {doing}: {}", describe(err)))
    }

    /// Adds (or replaces) the hint shown after the message.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The message without the hint, for tests and logs.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.hint {
            Some(hint) => write!(f, "{} (hint: {hint})", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Failure {}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::new(describe(&err))
    }
}

/// An `io::Error` in plain words.
///
/// The standard `Display` adds `(os error 111)`, which helps nobody learning
/// sockets; for the errors a student meets every day we say what it means.
pub fn describe(err: &io::Error) -> String {
    use io::ErrorKind::*;
    // A deadline for a whole message says which rule the peer broke.
    if let Some(slow) = crate::pace::too_slow(err) {
        return slow.to_string();
    }
    let plain = match err.kind() {
        ConnectionRefused => "connection refused: nothing is listening there",
        ConnectionReset => "connection reset by the peer",
        ConnectionAborted => "connection aborted",
        BrokenPipe => "the peer has closed the connection",
        AddrInUse => "address already in use",
        AddrNotAvailable => "that address does not belong to this machine",
        TimedOut | WouldBlock => "timed out",
        UnexpectedEof => "the peer closed the connection too early",
        PermissionDenied => "permission denied",
        NotFound => "not found",
        _ => return err.to_string(),
    };
    plain.to_string()
}

/// Whether `err` is a socket timeout running out.
///
/// A read or write timeout shows up as `WouldBlock` on Unix and as
/// `TimedOut` on Windows, so a program that means "timed out" checks both.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Runs a program's body and turns a [`Failure`] into `error: …` on stderr and
/// exit status 1.
///
/// Every `main` in the suite is `fn main() -> ExitCode { shared::run(body) }`,
/// so that an expected failure is one readable line, never a panic.
pub fn run(body: impl FnOnce() -> Result<(), Failure>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_its_hint_on_the_same_line() {
        let failure = Failure::io(
            "connect to 127.0.0.1:9",
            &io::Error::from(io::ErrorKind::ConnectionRefused),
        )
        .hint("start the server first");
        let line = failure.to_string();
        assert_eq!(
            line,
            "could not connect to 127.0.0.1:9: connection refused: nothing is listening there \
             (hint: start the server first)"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn unusual_errors_keep_the_operating_systems_words() {
        let err = io::Error::other("disk on fire");
        assert_eq!(describe(&err), "disk on fire");
    }
}
