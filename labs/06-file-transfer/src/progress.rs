//! A progress bar for transfers, drawn by hand on one terminal line.
//!
//! ```text
//! big.iso       42% [######..........] 430.1 MiB / 1.0 GiB   215.3 MiB/s  ETA 0:03
//! ```
//!
//! The trick is `\r`, carriage return: it moves the cursor back to the start
//! of the line without starting a new one, so the next drawing overwrites the
//! last. Two rules keep it cheap and polite: draw at most ten times a second
//! (a transfer calls [`Progress::advance`] thousands of times a second), and
//! draw only when a person is watching (stderr is a terminal), never into a
//! log file or a pipe, where `\r` would leave a mess.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::size::format_size;

/// Redraw no more often than this: faster than the eye needs is wasted work.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// How many characters the bar itself has between its brackets.
const BAR_WIDTH: usize = 16;

/// The longest label shown, so the line fits an 80-column terminal.
const LABEL_WIDTH: usize = 12;

/// One transfer's progress, drawn into `out` (stderr in the client).
pub struct Progress<W: Write> {
    /// Where to draw; `None` when nobody should see a bar.
    out: Option<W>,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    /// When the bar was last drawn; it starts as the start time, so the
    /// first drawing waits one interval too: a transfer that is over in a
    /// blink never flashes a bar, and the first rate shown is a real one.
    last_drawn: Instant,
    /// The length of the last line drawn, so `finish` can blank it out.
    drawn_len: usize,
}

impl<W: Write> Progress<W> {
    /// A bar for `total` bytes labelled `label`, drawn into `out` if it is
    /// `Some`.
    pub fn new(label: &str, total: u64, out: Option<W>) -> Self {
        let started = Instant::now();
        Progress {
            out,
            label: shorten(label, LABEL_WIDTH),
            total,
            done: 0,
            started,
            last_drawn: started,
            drawn_len: 0,
        }
    }

    /// Counts `bytes` more as transferred, and redraws if it is time.
    pub fn advance(&mut self, bytes: u64) {
        self.advance_at(bytes, Instant::now());
    }

    /// [`Progress::advance`] with the clock passed in, so tests can choose the time.
    // ANCHOR: throttle
    pub fn advance_at(&mut self, bytes: u64, now: Instant) {
        self.done += bytes;
        let due = now.duration_since(self.last_drawn) >= REDRAW_EVERY;
        if due && self.out.is_some() {
            self.last_drawn = now;
            let line = render(
                &self.label,
                self.done,
                self.total,
                now.duration_since(self.started),
            );
            self.draw(&line);
        }
    }
    // ANCHOR_END: throttle

    /// Erases the bar, leaving the line free for the result message.
    pub fn finish(mut self) {
        let blank = format!("\r{}\r", " ".repeat(self.drawn_len));
        if self.drawn_len > 0 {
            self.write(&blank);
        }
    }

    fn draw(&mut self, line: &str) {
        // Pad with spaces so a shorter line fully covers a longer one.
        let padded = format!("\r{line:<width$}", width = self.drawn_len);
        self.drawn_len = self.drawn_len.max(line.chars().count());
        self.write(&padded);
    }

    fn write(&mut self, text: &str) {
        if let Some(out) = self.out.as_mut() {
            // A progress bar that cannot be drawn is not worth failing a
            // transfer for: stop drawing instead.
            if out
                .write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                self.out = None;
            }
        }
    }
}

/// One line of progress: label, percentage, bar, amounts, rate and time left.
pub fn render(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (fraction * BAR_WIDTH as f64) as usize;
    let bar = format!("{}{}", "#".repeat(filled), ".".repeat(BAR_WIDTH - filled));
    let seconds = elapsed.as_secs_f64();
    let (rate, eta) = if done > 0 && seconds > 0.0 {
        let per_second = done as f64 / seconds;
        let left = total.saturating_sub(done) as f64 / per_second;
        (
            format!("{}/s", format_size(per_second as u64)),
            format_duration(left),
        )
    } else {
        ("--".to_string(), "--".to_string())
    };
    format!(
        "{label:<LABEL_WIDTH$} {percent:>3}% [{bar}] {done:>9} / {total:<9} {rate:>10}  ETA {eta}",
        percent = (fraction * 100.0) as u32,
        done = format_size(done),
        total = format_size(total),
    )
}

/// `m:ss`, or `h:mm:ss` past an hour.
fn format_duration(seconds: f64) -> String {
    let whole = seconds.ceil() as u64;
    let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

/// Cuts `text` to `width` characters, marking the cut with `~`.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width - 1).collect();
    short.push('~');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_percent_bar_amounts_rate_and_time_left() {
        let line = render("big.iso", 512 << 20, 1 << 30, Duration::from_secs(2));
        assert_eq!(
            line,
            "big.iso       50% [########........] 512.0 MiB / 1.0 GiB   256.0 MiB/s  ETA 0:02"
        );
    }

    #[test]
    fn before_any_byte_the_rate_is_unknown_and_an_empty_file_is_complete() {
        assert!(render("x", 0, 100, Duration::ZERO).ends_with("--  ETA --"));
        assert!(render("empty", 0, 0, Duration::ZERO).contains("100% [################]"));
    }

    #[test]
    fn long_labels_and_long_waits_stay_readable() {
        assert_eq!(shorten("a-very-long-file-name.tar.gz", 10), "a-very-lo~");
        assert_eq!(format_duration(59.2), "1:00");
        assert_eq!(format_duration(3725.0), "1:02:05");
    }

    #[test]
    fn the_bar_redraws_at_most_ten_times_a_second_and_is_erased_at_the_end() {
        let mut screen = Vec::new();
        let mut progress = Progress::new("f", 1000, Some(&mut screen));
        let start = progress.started;
        for ms in 0..=1000 {
            progress.advance_at(1, start + Duration::from_millis(ms));
        }
        progress.finish();
        let text = String::from_utf8(screen).unwrap();
        // "\r" before each of ten drawings (t = 100, 200, ..., 1000 ms; none
        // at the start), then "\r", spaces, "\r" to erase.
        let segments: Vec<&str> = text.split('\r').collect();
        assert_eq!(segments.len(), 13, "{text:?}");
        assert!(segments[1].contains(" 10% ["), "{text:?}");
        assert!(segments[10].contains("100% ["), "{text:?}");
        assert!(segments[11].len() >= segments[10].len());
        assert!(segments[11].chars().all(|c| c == ' '));
        assert_eq!(segments[12], "");
    }

    #[test]
    fn a_transfer_over_within_the_first_interval_draws_nothing() {
        let mut screen = Vec::new();
        let mut progress = Progress::new("f", 10, Some(&mut screen));
        let start = progress.started;
        progress.advance_at(10, start + Duration::from_millis(20));
        progress.finish();
        assert!(screen.is_empty());
    }

    #[test]
    fn without_a_terminal_nothing_is_drawn() {
        let mut progress = Progress::<Vec<u8>>::new("f", 10, None);
        progress.advance(10);
        assert!(progress.out.is_none());
        progress.finish();
    }
}
