//! The part of the command line that every lab shares.
//!
//! Each lab flattens an [`Endpoint`] into its own `clap` arguments, so `--host`
//! and `--port` look and behave the same in every binary of the suite.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::exit;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, Parser};

use crate::failure::Failure;

/// Where a server listens, or where a client connects.
///
/// `DEFAULT_PORT` is a const parameter because every lab has its own default
/// port (8001 for lab 01, 8002 for lab 02, …): two labs can then run side by
/// side, and `--help` still prints the real default.
#[derive(Args, Debug, Clone)]
pub struct Endpoint<const DEFAULT_PORT: u16> {
    /// Address to listen on (server) or connect to (client): an IP such as
    /// 127.0.0.1 or ::1, or a name such as localhost
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP or UDP port; 0 lets the operating system pick a free one (the
    /// server prints the port it got)
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
}

impl<const DEFAULT_PORT: u16> Endpoint<DEFAULT_PORT> {
    /// The endpoint as `host:port`, the way the user would write it.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// How a threaded server treats its clients: the options every server from
/// lab 02 on shares, flattened into its own arguments.
#[derive(Args, Debug, Clone)]
pub struct Serving {
    /// Most clients served at once; more wait in the accept queue
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_clients: u16,

    /// Seconds a client may make no progress (send nothing, read nothing)
    /// before the server closes its connection
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    pub idle_timeout: Duration,

    /// Length of the queue of connections not yet accepted (listen's argument);
    /// it is NOT a limit on clients
    #[arg(long, default_value_t = crate::net::DEFAULT_BACKLOG)]
    pub backlog: i32,

    /// Do not log every message (for benchmarks)
    #[arg(long)]
    pub quiet: bool,
}

/// How long a server lets a client take over one request: the options of
/// the servers that read framed requests (labs 05 and 06), flattened into
/// their own arguments.
///
/// `--idle-timeout` notices a client that sends nothing; these notice one
/// that sends too slowly, a byte now and then, to hold a thread for hours.
#[derive(Args, Debug, Clone)]
pub struct Deadlines {
    /// Seconds a request's length prefix and header may take to arrive,
    /// counted from their first byte; also the grace period of a body
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub request_timeout: Duration,

    /// Slowest average rate, in bytes per second, at which a request's body
    /// may arrive once its first --request-timeout seconds are over
    #[arg(long, value_name = "BYTES", default_value_t = crate::pace::DEFAULT_MIN_RATE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub min_rate: u64,
}

impl Deadlines {
    /// The pace of a request's prefix and header: all of it within the
    /// request timeout.
    pub fn header(&self) -> crate::pace::Pace {
        crate::pace::Pace::within(self.request_timeout)
    }

    /// The pace of a request's body: the request timeout as grace, then the
    /// minimum rate.
    pub fn body(&self) -> crate::pace::Pace {
        crate::pace::Pace::min_rate_after(self.request_timeout, self.min_rate)
    }
}

/// The exit status of a usage error (an unknown option, a bad value): 2, as
/// for most command-line programs, so a script can tell "you called me
/// wrongly" (2) from "I tried and failed" (1).
pub const USAGE_ERROR: i32 = 2;

// ANCHOR: parse
/// Parses the command line into `T`, or prints what is wrong in ONE line,
/// `error: … (hint: …)`, and exits with status [`USAGE_ERROR`].
///
/// Every binary's `main` starts with `shared::cli::parse::<Args>()` rather
/// than `Args::parse()`: clap's own report is several lines (the error, a
/// tip, the usage, a pointer to `--help`), which breaks the suite's promise
/// of one error line. `--help` and `--version` are not errors and print as
/// clap prints them.
pub fn parse<T: Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            err.exit()
        }
        Err(err) => {
            eprintln!("{}", usage_error_line(&err.render().to_string()));
            exit(USAGE_ERROR)
        }
    }
}
// ANCHOR_END: parse

/// clap's report (`error: …`, blank lines, `  tip: …`, `Usage: …`) as one
/// line: the error, with the tips and a pointer to `--help` as the hint.
fn usage_error_line(report: &str) -> String {
    let mut lines = report
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let error = lines
        .next()
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .unwrap_or("the command line is not valid");
    let mut hints: Vec<&str> = lines
        .filter_map(|line| line.strip_prefix("tip: "))
        .collect();
    hints.push("--help lists the options");
    format!("error: {error} (hint: {})", hints.join("; "))
}

/// The lines a person types (or a script pipes) on stdin, one at a time,
/// for clients that take their messages or commands from stdin.
///
/// When stdin is a terminal, each line is asked for with the prompt `>> `;
/// when it is a pipe or a file, no prompt is printed, so a script's output
/// holds only the replies.
pub fn typed_lines() -> TypedLines {
    let stdin = io::stdin();
    TypedLines {
        interactive: stdin.is_terminal(),
        lines: stdin.lock().lines(),
    }
}

/// See [`typed_lines`].
pub struct TypedLines {
    interactive: bool,
    lines: io::Lines<io::StdinLock<'static>>,
}

impl Iterator for TypedLines {
    type Item = Result<String, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.interactive {
            let mut stdout = io::stdout();
            // The prompt has no newline, so it must be flushed to be seen.
            if let Err(err) = write!(stdout, ">> ").and_then(|()| stdout.flush()) {
                return Some(Err(Failure::io("print the prompt", &err)));
            }
        }
        let line = self.lines.next()?;
        Some(line.map_err(|err| Failure::io("read stdin", &err)))
    }
}

/// Parses a number of seconds such as `30` or `0.5` into a [`Duration`], for
/// timeout options (`#[arg(value_parser = shared::cli::seconds)]`).
///
/// Zero is refused: a timeout of zero means "no timeout" to the socket calls,
/// the very thing a timeout option is there to prevent.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds (try 10 or 0.5)"))?;
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            format!("{text} seconds is not a usable timeout: give a number above 0")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_fractions_and_refuses_zero_and_words() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("30"), Ok(Duration::from_secs(30)));
        assert!(seconds("0").is_err());
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").unwrap_err().contains("not a number"));
    }

    #[test]
    fn a_clap_report_becomes_one_error_line_with_its_tip_as_the_hint() {
        let report = "error: unexpected argument '--prot' found\n\n  \
                      tip: a similar argument exists: '--port'\n\n\
                      Usage: lab02-client --port <PORT>\n\n\
                      For more information, try '--help'.\n";
        assert_eq!(
            usage_error_line(report),
            "error: unexpected argument '--prot' found (hint: a similar argument exists: \
             '--port'; --help lists the options)"
        );
    }

    #[test]
    fn an_ipv6_endpoint_is_written_in_brackets() {
        let endpoint = Endpoint::<80> {
            host: "::1".into(),
            port: 80,
        };
        assert_eq!(endpoint.display(), "[::1]:80");
    }
}
