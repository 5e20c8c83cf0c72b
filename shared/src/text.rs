//! Printing what a peer sent, without letting the peer write on our terminal.
//!
//! A client prints text that came over the network: a reply, a refusal, a
//! file name. Printed raw, that text can hold a newline followed by a line of
//! its own choosing (a fake `ok` or `error:`), or terminal escape codes that
//! colour the screen, move the cursor or set the window's title. The peer
//! decides those bytes, so they are shown, never obeyed.

// ANCHOR: printable
/// `text` made safe to print on one line: every control character (newline,
/// carriage return, ESC, …) and every invisible character that reorders
/// text is shown as an escape such as `\n` or `\u{1b}`; everything else,
/// accents, quotes and backslashes included, is shown as it is.
///
/// One peer message printed with it is one line of output, whatever it holds.
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || reorders_text(c) {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    shown
}
// ANCHOR_END: printable

/// Bytes from a peer as printable text: invalid UTF-8 becomes `�`, then
/// [`printable`] applies.
pub fn printable_bytes(bytes: &[u8]) -> String {
    printable(&String::from_utf8_lossy(bytes))
}

/// Invisible characters that change how the text around them is shown:
/// zero-width marks and the bidirectional overrides that can make a name
/// read backwards ("Trojan source"). They are not control characters, so
/// `is_control` misses them.
fn reorders_text(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_lines_and_escape_codes_stay_on_one_visible_line() {
        let forged = "ok\nhello: 28 bytes ok\r\x1b[2J\x1b]0;owned\x07";
        let shown = printable(forged);
        assert_eq!(
            shown,
            "ok\\nhello: 28 bytes ok\\r\\u{1b}[2J\\u{1b}]0;owned\\u{7}"
        );
        assert!(!shown.contains(['\n', '\r', '\x1b', '\x07']));
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        assert_eq!(
            printable("café 'quoted' \"x\" ('/' or '\\') ✓"),
            "café 'quoted' \"x\" ('/' or '\\') ✓"
        );
    }

    #[test]
    fn text_reversing_marks_and_bad_utf8_are_shown() {
        assert_eq!(printable("abc\u{202E}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(printable_bytes(b"a\xffb\x9b"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
