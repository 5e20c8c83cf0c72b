//! The one line the server sends back: how many reads it took to receive
//! everything a client sent.

use std::fmt;

/// What the server saw on one connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// How many reads returned data (the server took each one for a message).
    pub reads: u64,
    /// How many bytes those reads returned in all.
    pub bytes: u64,
}

/// The most bytes a client accepts as the report, `\n` included.
///
/// A real report is under 50 bytes; the cap keeps a wrong peer (something
/// else listening on the port) from filling the client's memory.
pub const MAX_REPORT_BYTES: u64 = 64;

impl Report {
    /// Reads a report line, `reads=R bytes=B`, with or without its `\n`.
    pub fn parse(line: &str) -> Option<Report> {
        let (reads, bytes) = line.trim_end_matches('\n').split_once(' ')?;
        Some(Report {
            reads: reads.strip_prefix("reads=")?.parse().ok()?,
            bytes: bytes.strip_prefix("bytes=")?.parse().ok()?,
        })
    }
}

/// `reads=R bytes=B`, the line as it travels (without its `\n`).
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reads={} bytes={}", self.reads, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_what_it_wrote() {
        let report = Report {
            reads: 10,
            bytes: 10_000,
        };
        assert_eq!(report.to_string(), "reads=10 bytes=10000");
        assert_eq!(Report::parse("reads=10 bytes=10000\n"), Some(report));
    }

    #[test]
    fn anything_else_is_not_a_report() {
        for line in ["", "reads=1", "reads=x bytes=2", "bytes=2 reads=1", "HELLO"] {
            assert_eq!(Report::parse(line), None, "{line:?}");
        }
    }
}
