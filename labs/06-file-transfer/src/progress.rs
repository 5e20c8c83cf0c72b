//! A progress bar for transfers, drawn by the `indicatif` crate.
//!
//! ```text
//! photo.jpg     78% [############....]    2.2 MiB / 2.9 MiB      22.0 MiB/s  ETA 1s
//! ```
//!
//! A bar on one terminal line is drawn again and again over itself with `\r`
//! (carriage return: back to the start of the line, no new line). Drawing it
//! well is fiddly (throttling, terminal width, erasing it at the end), so we
//! use the crate Rust programs use for it, as Python programs use tqdm. Two
//! rules stay ours: the bar is drawn only when a person is watching (stderr
//! is a terminal), never into a log file or a pipe where `\r` would leave a
//! mess; and not during a transfer's first tenth of a second, so a small
//! file never flashes a bar.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a transfer runs before its bar appears.
const FIRST_DRAW_AFTER: Duration = Duration::from_millis(100);

/// Redraws per second: faster than the eye needs is wasted work (a transfer
/// reports progress thousands of times a second).
const REDRAWS_PER_SECOND: u8 = 10;

/// The longest label shown, so the line fits an 80-column terminal.
const LABEL_WIDTH: usize = 12;

/// The line: label, percentage, bar, amounts, rate and time left.
const TEMPLATE: &str = "{prefix} {percent:>3}% [{bar:16}] {binary_bytes:>10} / \
     {binary_total_bytes:<10} {binary_bytes_per_sec:>12}  ETA {eta}";

/// One transfer's progress, drawn on stderr.
pub struct Progress {
    bar: ProgressBar,
    /// Whether the bar may ever be drawn (a person is watching).
    shown: bool,
    /// When the transfer started, to hold the first drawing back.
    started: Instant,
    /// Whether the bar has been given its place on stderr yet.
    drawing: bool,
}

impl Progress {
    /// A bar for `total` bytes labelled `label`, drawn on stderr if `shown`.
    pub fn new(label: &str, total: u64, shown: bool) -> Self {
        // Hidden to begin with: `advance` gives it stderr when it is time.
        let bar =
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style.progress_chars("#."));
        }
        bar.set_prefix(format!("{:<LABEL_WIDTH$}", shorten(label, LABEL_WIDTH)));
        Progress {
            bar,
            shown,
            started: Instant::now(),
            drawing: false,
        }
    }

    /// Counts `bytes` more as transferred.
    pub fn advance(&mut self, bytes: u64) {
        self.advance_at(bytes, Instant::now());
    }

    /// [`Progress::advance`] with the clock passed in, so tests can choose the time.
    // ANCHOR: throttle
    pub fn advance_at(&mut self, bytes: u64, now: Instant) {
        self.bar.inc(bytes);
        let due = now.duration_since(self.started) >= FIRST_DRAW_AFTER;
        if due && self.shown && !self.drawing {
            // From now on indicatif redraws the line, at most ten times a
            // second, and draws nothing if stderr is not a terminal.
            self.drawing = true;
            self.bar
                .set_draw_target(ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND));
        }
    }
    // ANCHOR_END: throttle

    /// Erases the bar, leaving the line free for the result message.
    pub fn finish(self) {
        self.bar.finish_and_clear();
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
    fn the_line_template_is_valid() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn long_labels_are_cut_to_fit() {
        assert_eq!(shorten("a-very-long-file-name.tar.gz", 10), "a-very-lo~");
        assert_eq!(shorten("photo.jpg", 12), "photo.jpg");
    }

    #[test]
    fn the_bar_takes_stderr_only_after_the_first_tenth_of_a_second() {
        let mut progress = Progress::new("f", 1000, true);
        let start = progress.started;
        progress.advance_at(10, start + Duration::from_millis(20));
        assert!(!progress.drawing, "a bar within the first interval");
        progress.advance_at(10, start + Duration::from_millis(100));
        assert!(progress.drawing);
        assert_eq!(progress.bar.position(), 20);
        progress.finish();
    }

    #[test]
    fn a_bar_nobody_watches_never_takes_stderr() {
        let mut progress = Progress::new("f", 10, false);
        let start = progress.started;
        progress.advance_at(10, start + Duration::from_secs(5));
        assert!(!progress.drawing);
        progress.finish();
    }
}
