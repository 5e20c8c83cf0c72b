//! Sizes in bytes, read and written the way people write them: `4GiB`, `64M`.

/// Units a size may end with, and how many bytes each is.
///
/// The `i` units are powers of 1024 (what memory and most tools count in);
/// `KB`, `MB`, ... are powers of 1000 (what disk makers and network speeds
/// use). A bare letter such as `M` means the power of 1024.
const UNITS: [(&str, u64); 13] = [
    ("", 1),
    ("b", 1),
    ("k", 1 << 10),
    ("kib", 1 << 10),
    ("kb", 1_000),
    ("m", 1 << 20),
    ("mib", 1 << 20),
    ("mb", 1_000_000),
    ("g", 1 << 30),
    ("gib", 1 << 30),
    ("gb", 1_000_000_000),
    ("t", 1 << 40),
    ("tib", 1 << 40),
];

/// Parses `4GiB`, `64 MiB`, `1.5G`, `100MB` or `1000` into bytes, for clap's
/// `value_parser`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, bytes)| *bytes)
        .ok_or_else(|| {
            format!("unknown unit in '{text}' (try 4GiB, 64MiB, 512KiB or bytes)")
        })?;
    let number: f64 = number.parse().map_err(|_| {
        format!("'{text}' is not a size (try 4GiB, 64MiB, 512KiB or bytes)")
    })?;
    let bytes = (number * multiplier as f64).round();
    if bytes > u64::MAX as f64 {
        return Err(format!("{text} is too large"));
    }
    Ok(bytes as u64)
}

/// Writes a size for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`.
pub fn format_size(bytes: u64) -> String {
    const NAMES: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < NAMES.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", NAMES[unit])
}

/// `size` and `limit` in words that differ whenever the numbers do, for a
/// message that compares them.
///
/// Rounded to one decimal, 4 GiB and one byte more are both "4.0 GiB", and
/// "4.0 GiB, more than the 4.0 GiB this server accepts" reads as nonsense;
/// when rounding hides the difference, the exact numbers of bytes are shown.
pub fn format_sizes_apart(size: u64, limit: u64) -> (String, String) {
    let (size_text, limit_text) = (format_size(size), format_size(limit));
    if size_text != limit_text || size == limit {
        (size_text, limit_text)
    } else {
        (format!("{size} bytes"), format!("{limit} bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4 GiB"), Ok(4 << 30));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(
            parse_size("4 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1.2.3M").is_err());
    }

    #[test]
    fn sizes_print_in_the_largest_fitting_binary_unit() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(1 << 30), "1.0 GiB");
        assert_eq!(format_size(5 * (1 << 20) + (1 << 19)), "5.5 MiB");
    }

    #[test]
    fn two_sizes_that_round_alike_are_shown_in_bytes() {
        assert_eq!(
            format_sizes_apart((4 << 30) + 1, 4 << 30),
            (
                "4294967297 bytes".to_string(),
                "4294967296 bytes".to_string()
            )
        );
        assert_eq!(
            format_sizes_apart(5 << 30, 4 << 30),
            ("5.0 GiB".to_string(), "4.0 GiB".to_string())
        );
    }
}
