//! Compares what the book shows with what a command really printed.
//!
//! Some parts of an output differ on every run whatever the code does, so both
//! sides are normalised before they are compared:
//!
//! - always: ephemeral ports (5 digits, such as `127.0.0.1:36134` or
//!   `--port 36134`, become `PORT`; the labs' fixed ports such as 8001 stay), durations (`0.08s`,
//!   `241.51 ms`), temporary folders (`/tmp/.tmpXXXXXX`), and runs of spaces
//!   (column widths follow the widest value);
//! - when the chapter says so with a marker: digests and checksums, every number, the order
//!   of the lines, or only some lines (see [`Varies`]).

use super::parse::Varies;

/// Why a command's output is not the one the book shows, in a few lines.
pub fn mismatch(shown: &[String], printed: &str, varies: &[Varies]) -> Option<String> {
    let normal = |line: &str| normalise(line, varies);
    let mut want: Vec<String> = shown.iter().map(|l| normal(l)).collect();
    let mut got: Vec<String> = printed.lines().map(normal).collect();
    while want.last().is_some_and(String::is_empty) {
        want.pop();
    }
    while got.last().is_some_and(String::is_empty) {
        got.pop();
    }
    // Reports quote both sides as written, not normalised: a writer copies
    // the printed lines into the book, and placeholders (`N`, `PORT`) must
    // not go there.
    let printed_lines: Vec<String> = printed.lines().map(String::from).collect();
    if varies.contains(&Varies::Among) {
        let mut rest = got.iter();
        let missing = want
            .iter()
            .position(|line| !rest.by_ref().any(|candidate| candidate == line))?;
        return Some(format!(
            "the book shows the line\n    {}\n  which is not in (or not in that order in) the output:\n{}",
            shown[missing],
            indent(&printed_lines)
        ));
    }
    if varies.contains(&Varies::Order) {
        want.sort();
        got.sort();
    }
    if want == got {
        return None;
    }
    let first = (0..want.len().max(got.len()))
        .find(|&i| want.get(i) != got.get(i))
        .unwrap_or(0);
    let which = if varies.contains(&Varies::Order) {
        "the lines differ (in any order)".to_string()
    } else {
        format!("line {} differs", first + 1)
    };
    Some(format!(
        "{which}\n  the book shows:\n{}\n  the command printed:\n{}",
        indent(shown),
        indent(&printed_lines)
    ))
}

/// The lines of a report, indented under their heading (or "(nothing)").
fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (nothing)".to_string();
    }
    lines
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `varies digests` or `varies numbers` marker that changes nothing in
/// the shown output, if any: the shown text has no digest or no number left
/// to vary (placeholders copied into the book in place of a real run), so
/// the comparison would pass whatever the command printed.
pub fn idle_marker(shown: &[String], varies: &[Varies]) -> Option<Varies> {
    varies
        .iter()
        .copied()
        .filter(|marker| matches!(marker, Varies::Digests | Varies::Numbers))
        .find(|&marker| {
            shown
                .iter()
                .all(|line| normalise(line, &[marker]) == normalise(line, &[]))
        })
}

/// One line with its varying parts replaced by placeholders.
pub fn normalise(line: &str, varies: &[Varies]) -> String {
    let mut words: Vec<String> = Vec::new();
    for word in line.split_whitespace() {
        let after_port_option = words.last().is_some_and(|last| last == "--port");
        if after_port_option && word.len() == 5 && word.chars().all(|c| c.is_ascii_digit()) {
            words.push("PORT".to_string());
        } else {
            words.push(normalise_word(word, varies));
        }
    }
    let joined = words.join(" ");
    join_durations(&joined)
}

/// One word with its varying parts replaced: ports, temporary folders, and
/// what the chapter says varies.
fn normalise_word(word: &str, varies: &[Varies]) -> String {
    let mut word = ephemeral_ports(word);
    if let Some(start) = word.find("/tmp/.tmp") {
        let end = word[start + 9..]
            .find(['/', '\'', '"', ')', ':'])
            .map_or(word.len(), |i| start + 9 + i);
        word.replace_range(start..end, "/tmp/TMP");
    }
    if varies.contains(&Varies::Digests) {
        word = replace_runs(
            &word,
            |c| c.is_ascii_hexdigit(),
            |run| [8, 32, 40, 64].contains(&run.len()).then_some("DIGEST"),
        );
    }
    if varies.contains(&Varies::Numbers) {
        word = replace_runs(
            &word,
            |c| c.is_ascii_digit() || c == '.',
            |run| run.starts_with(|c: char| c.is_ascii_digit()).then_some("N"),
        );
    }
    duration(&word).unwrap_or(word)
}

/// `:36134` (a port the kernel picked) becomes `:PORT`; `:8001` stays.
fn ephemeral_ports(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(colon) = rest.find(':') {
        out.push_str(&rest[..=colon]);
        rest = &rest[colon + 1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 5 {
            out.push_str("PORT");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every maximal run of `class` characters that `replace` accepts.
fn replace_runs(
    word: &str,
    class: impl Fn(char) -> bool,
    replace: impl Fn(&str) -> Option<&'static str>,
) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        out.push_str(replace(run).unwrap_or(run));
        run.clear();
    };
    for c in word.chars() {
        if class(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The units a duration is printed in.
const UNITS: [&str; 5] = ["ms", "s", "µs", "us", "ns"];

/// `0.08s`, `241.51ms` or `12s,` as one word: a `TIME`.
fn duration(word: &str) -> Option<String> {
    let core = word.trim_end_matches([',', ';', ')', '.']);
    let tail = &word[core.len()..];
    let number_end = core
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|&end| end > 0)?;
    UNITS
        .contains(&&core[number_end..])
        .then(|| format!("TIME{tail}"))
}

/// `241.51 ms` (number, space, unit) as one `TIME`.
fn join_durations(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let is_number = !words[i].is_empty()
            && words[i].chars().all(|c| c.is_ascii_digit() || c == '.')
            && words[i].starts_with(|c: char| c.is_ascii_digit());
        if is_number {
            if let Some(time) = words
                .get(i + 1)
                .and_then(|unit| duration(&format!("0{unit}")))
            {
                out.push(time);
                i += 2;
                continue;
            }
        }
        out.push(words[i].to_string());
        i += 1;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn ephemeral_ports_times_and_spacing_never_count() {
        let shown = lines("accepted 127.0.0.1:36134\ntook  0.08s and 241.51 ms, 8001");
        assert_eq!(
            mismatch(
                &shown,
                "accepted 127.0.0.1:51000\ntook 1.2s and 3 ms, 8001\n",
                &[]
            ),
            None
        );
    }

    #[test]
    fn a_fixed_port_a_word_or_a_missing_line_does_count() {
        let shown = lines("listening on 127.0.0.1:8001\nHELLO");
        assert!(mismatch(&shown, "listening on 127.0.0.1:8002\nHELLO", &[]).is_some());
        assert!(mismatch(&shown, "listening on 127.0.0.1:8001\nHELLO!", &[]).is_some());
        let report = mismatch(&shown, "listening on 127.0.0.1:8001", &[]).unwrap();
        assert!(report.contains("line 2 differs"), "{report}");
    }

    #[test]
    fn digests_numbers_and_order_count_unless_the_chapter_says_they_vary() {
        let digest = "e17b6844c4441384104afcbf95af86a871945c9ce319d5488ffb52cf12da2d44";
        let other = "642f55f80138c130c6059a451f30cd5be59a6520d04a9ca83b2a334358a365e5";
        let shown = lines(&format!("SHA-256 {digest} (verified)"));
        let printed = format!("SHA-256 {other} (verified)");
        assert!(mismatch(&shown, &printed, &[]).is_some());
        assert_eq!(mismatch(&shown, &printed, &[Varies::Digests]), None);

        let shown = lines("server | a\nclient | b");
        assert!(mismatch(&shown, "client | b\nserver | a", &[]).is_some());
        assert_eq!(
            mismatch(&shown, "client | b\nserver | a", &[Varies::Order]),
            None
        );

        let shown = lines("time: 10 bytes: \"1795306195\"");
        assert_eq!(
            mismatch(&shown, "time: 10 bytes: \"1795399999\"", &[Varies::Numbers]),
            None
        );
    }

    #[test]
    fn a_mismatch_report_quotes_both_sides_as_written_not_normalised() {
        // A writer fixes a stale output by copying what the report says the
        // command printed: placeholders there would end up in the book.
        let shown = lines("alice,100 from 127.0.0.1:41234\nbob,90");
        let printed = "alice,110 from 127.0.0.1:50000\ncarol,90\n";
        let report = mismatch(&shown, printed, &[Varies::Numbers]).unwrap();
        assert!(
            report.contains("alice,110 from 127.0.0.1:50000"),
            "{report}"
        );
        assert!(
            report.contains("alice,100 from 127.0.0.1:41234"),
            "{report}"
        );
        assert!(
            !report.contains(",N") && !report.contains("PORT"),
            "{report}"
        );
    }

    #[test]
    fn a_varies_marker_on_output_it_cannot_change_is_an_error() {
        let leaked = lines("student,score\nalice,N,N");
        assert!(idle_marker(&leaked, &[Varies::Numbers]).is_some());
        assert_eq!(idle_marker(&lines("alice,100,N"), &[Varies::Numbers]), None);
        assert!(idle_marker(&lines("SHA-256 DIGEST"), &[Varies::Digests]).is_some());
        assert_eq!(
            idle_marker(&lines("SHA-256 0badc0de"), &[Varies::Digests]),
            None
        );
        assert_eq!(idle_marker(&lines("b\na"), &[Varies::Order]), None);
    }

    #[test]
    fn among_wants_every_shown_line_in_order_and_allows_others() {
        let shown = lines("LISTEN 8 128");
        assert_eq!(
            mismatch(&shown, "[1] 123\nState\nLISTEN 8 128\n", &[Varies::Among]),
            None
        );
        assert!(mismatch(&shown, "State\nLISTEN 7 128\n", &[Varies::Among]).is_some());
    }
}
