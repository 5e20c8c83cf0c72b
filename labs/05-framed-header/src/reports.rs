//! The server's fixed set of reports: the safe answer to "run this command".
//!
//! A classic tutorial builds a "remote shell": the client sends a line, and
//! the server runs it with `subprocess.Popen(line, shell=True)`. Anyone who
//! can reach the port can then run anything the server's user can (`rm -rf ~`,
//! reading keys, installing a backdoor). Here the client sends a *name*, the
//! server looks it up in this list, and nothing received is ever executed or
//! passed to a shell.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::{MAX_NUMBERS, Numbers, Request};

/// The short text of the `hello` report.
pub const HELLO: &str = "hello from the lab 05 server";

/// The names a client may ask for, as the error reply lists them.
pub const CATALOGUE: &str =
    "hello, empty, time, numbers (with a count of bytes), echo (sends your body back)";

/// A report's body: a few bytes in memory, or `numbers`, made as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A short body, whole.
    Bytes(Vec<u8>),
    /// The first `count` bytes of `0\n1\n2\n…`, generated as they are read,
    /// so that a large reply is never whole in memory.
    Numbers(u64),
}

impl Report {
    /// How many bytes the body has.
    pub fn size(&self) -> u64 {
        match self {
            Report::Bytes(bytes) => bytes.len() as u64,
            Report::Numbers(count) => *count,
        }
    }

    /// The body, from its first byte, as something to read from; it can be
    /// read again from the start as often as needed (once for the checksum,
    /// once to send).
    pub fn body(&self) -> Box<dyn Read + '_> {
        match self {
            Report::Bytes(bytes) => Box::new(bytes.as_slice()),
            Report::Numbers(count) => Box::new(Numbers::new(*count)),
        }
    }
}

// ANCHOR: produce
/// The report `request` asks for, or why there is none.
///
/// `body` is the request's own body, which only `echo` uses. A name not in
/// the list is refused with the list, never run.
pub fn produce(request: &Request, body: &[u8]) -> Result<Report, String> {
    if request.report != "echo" && !body.is_empty() {
        return Err(format!(
            "the report '{}' takes no request body",
            request.report
        ));
    }
    match request.report.as_str() {
        "hello" => Ok(Report::Bytes(HELLO.as_bytes().to_vec())),
        "empty" => Ok(Report::Bytes(Vec::new())),
        "time" => Ok(Report::Bytes(seconds_since_1970().into_bytes())),
        "echo" => Ok(Report::Bytes(body.to_vec())),
        "numbers" => match request.count {
            Some(count) if count <= MAX_NUMBERS => Ok(Report::Numbers(count)),
            Some(count) => Err(format!(
                "numbers {count} is too many: the most is {MAX_NUMBERS}"
            )),
            None => Err("numbers needs a count, such as numbers 1000".to_string()),
        },
        other => Err(format!(
            "there is no report named '{other}'; the reports are: {CATALOGUE}"
        )),
    }
}
// ANCHOR_END: produce

/// The server's clock as whole seconds since 1970-01-01 UTC, as text.
fn seconds_since_1970() -> String {
    // A clock set before 1970 is the only way this fails; say 0 then.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(report: &str, count: Option<u64>, body: &[u8]) -> Result<Vec<u8>, String> {
        let request = Request {
            report: report.to_string(),
            count,
            body_size: body.len() as u64,
        };
        let mut bytes = Vec::new();
        produce(&request, body)?
            .body()
            .read_to_end(&mut bytes)
            .expect("a report's body is in memory or generated");
        Ok(bytes)
    }

    #[test]
    fn each_report_has_its_body() {
        assert_eq!(ask("hello", None, b"").unwrap(), HELLO.as_bytes());
        assert_eq!(ask("empty", None, b"").unwrap(), b"");
        assert_eq!(ask("echo", None, b"\0bin\xff").unwrap(), b"\0bin\xff");
        assert_eq!(ask("numbers", Some(4), b"").unwrap(), b"0\n1\n");
        let time: u64 = String::from_utf8(ask("time", None, b"").unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!(time > 1_700_000_000);
    }

    #[test]
    fn a_shell_command_is_an_unknown_name_and_the_list_comes_back() {
        let err = ask("rm -rf ~", None, b"").unwrap_err();
        assert_eq!(
            err,
            format!("there is no report named 'rm -rf ~'; the reports are: {CATALOGUE}")
        );
    }

    #[test]
    fn numbers_without_a_count_or_with_too_big_a_count_is_refused() {
        assert!(
            ask("numbers", None, b"")
                .unwrap_err()
                .contains("needs a count")
        );
        assert!(
            ask("numbers", Some(MAX_NUMBERS + 1), b"")
                .unwrap_err()
                .contains("too many")
        );
        assert!(
            ask("hello", None, b"x")
                .unwrap_err()
                .contains("no request body")
        );
    }
}
