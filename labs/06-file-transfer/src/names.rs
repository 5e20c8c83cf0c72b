//! Which file names a peer may use: plain names, nothing that is a path.
//!
//! A name comes from the other side of the connection, so it is a claim to
//! check, never a path to open. The tutorials join it to a folder as it is,
//! and `get ../../etc/passwd` then reads a file far outside that folder. Here
//! a name must be ONE plain component: no separators, no `..`, nothing that
//! an operating system reads as "go somewhere else".

use std::fmt;

/// The longest name most file systems accept for one component.
pub const MAX_NAME_BYTES: usize = 255;

/// A name refused by [`check_name`], with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    /// The name as the peer sent it.
    pub name: String,
    /// Why it is refused, as the end of a sentence.
    pub reason: &'static str,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` puts the name in quotes and escapes control characters, so a
        // hostile name cannot break our log lines or fake one.
        write!(
            f,
            "{:?} is not a plain file name: {}",
            self.name, self.reason
        )
    }
}

impl std::error::Error for BadName {}

/// Accepts `name` only if it is one plain file name.
///
/// Refused: the empty name; `.` and `..`; any `/` or `\` (which also refuses
/// absolute paths such as `/etc/passwd` and `C:\boot.ini`); NUL and other
/// control characters; names starting with `.` (hidden files, and the
/// temporaries this lab writes while a file arrives); names longer than
/// [`MAX_NAME_BYTES`]. Non-ASCII names such as `café.txt` are fine.
// ANCHOR: check_name
pub fn check_name(name: &str) -> Result<(), BadName> {
    let refuse = |reason| {
        Err(BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name == "." || name == ".." {
        return refuse("'.' and '..' name folders, not files");
    }
    if name.contains(['/', '\\']) {
        return refuse(
            "it contains a path separator ('/' or '\\'); give just the file's name",
        );
    }
    if name.contains('\0') {
        return refuse(
            "it contains a NUL byte, which ends a path early in C-based systems",
        );
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    if name.starts_with('.') {
        return refuse("names starting with '.' are hidden files, which are not shared");
    }
    if name.len() > MAX_NAME_BYTES {
        return refuse("it is longer than 255 bytes");
    }
    Ok(())
}
// ANCHOR_END: check_name

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_including_non_ascii_and_spaces() {
        for name in [
            "hello.txt",
            "café.txt",
            "报告 2024.pdf",
            "a",
            "no-extension",
            "x..y",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn paths_and_tricks_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            (".", "folders"),
            ("..", "folders"),
            ("../../etc/passwd", "path separator"),
            ("/etc/passwd", "path separator"),
            ("sub/file", "path separator"),
            ("..\\boot.ini", "path separator"),
            ("C:\\boot.ini", "path separator"),
            ("file\0.txt", "NUL"),
            ("line\nbreak", "control character"),
            (".bashrc", "hidden"),
            (".report.pdf.partial-00ff00ff00ff00ff", "hidden"),
        ];
        for (name, reason) in cases {
            let err = check_name(name).unwrap_err();
            assert!(err.reason.contains(reason), "{name:?}: {err}");
        }
        assert!(check_name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(check_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn a_refusal_quotes_the_name_with_control_characters_escaped() {
        let err = check_name("evil\nerror: fake").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"evil\\nerror: fake\" is not a plain file name: it contains a control character"
        );
    }
}
