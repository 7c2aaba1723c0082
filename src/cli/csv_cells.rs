//! Every CSV file the command line writes goes through [`writer`], and every
//! cell it reads back through [`read_cell`], so that no cell runs as a formula
//! when staff open the file in a spreadsheet (CSV injection, as OWASP
//! describes it: a grantee's description `=HYPERLINK(...)` would otherwise run
//! in a program officer's spreadsheet). The rules:
//!
//! - A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return
//!   (after any apostrophes it begins with) gets one apostrophe in front:
//!   spreadsheets show it as text and never evaluate it.
//! - A cell that is a plain number (an optional minus, digits, an optional
//!   decimal part: `-1250`, `3.5`) stays as it is, so a negative amount is
//!   still a number. It cannot be a formula: nothing but digits follows its
//!   sign. Any other cell starting with `-` or `+` (`-1+2`, `+5`) is text and
//!   is escaped.
//! - Every cell that is not a plain number is written in double quotes (a
//!   quote inside doubled), so that no delimiter of a spreadsheet's locale
//!   (`;`, a tab) splits it into a new cell that could begin a formula.
//! - Reading undoes exactly the first rule: one leading apostrophe is dropped
//!   when the rest is a cell that rule would have escaped. `read_cell` of a
//!   written cell is the original, for every text (the apostrophes before a
//!   trigger are counted, so a text that itself begins `'=` comes back too).

use std::borrow::Cow;
use std::io::Write;

/// Characters that make a spreadsheet read a cell as a formula (or run it through one).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV writer whose cells are written by the rules above.
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
}

/// A CSV writer on `out`; see the module documentation.
pub fn writer<W: Write>(out: W) -> Writer<W> {
    // The one place a CSV writer is made (clippy.toml refuses the others).
    #[allow(clippy::disallowed_methods)]
    let inner = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .from_writer(out);
    Writer { inner }
}

impl<W: Write> Writer<W> {
    /// Writes one line of cells, each escaped when it needs to be.
    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.inner.write_record(
            record
                .into_iter()
                .map(|cell| escape(cell.as_ref()).into_owned()),
        )
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `cell` as it is written: with an apostrophe in front when a spreadsheet would run it.
pub fn escape(cell: &str) -> Cow<'_, str> {
    if would_run(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read from a file: the text `escape` was given for it.
pub fn read_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if would_run(rest) => rest,
        _ => cell,
    }
}

/// Whether a spreadsheet could take `cell` for a formula: it begins (after any apostrophes,
/// which `read_cell` must be able to tell from the one `escape` adds) with a formula
/// character, and it is not a plain number.
fn would_run(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS) && !is_plain_number(cell)
}

/// An optional minus, digits, and optionally a point and more digits.
fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(record: &[&str]) -> String {
        let mut out = Vec::new();
        let mut csv = writer(&mut out);
        csv.write_record(record).unwrap();
        csv.flush().unwrap();
        drop(csv);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_gets_an_apostrophe_and_quotes() {
        assert_eq!(
            written(&["=HYPERLINK(\"http://x\",\"y\")"]),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n"
        );
        for (cell, expected) in [
            ("+1", "'+1"),
            ("-1+2", "'-1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("'=1", "''=1"),
            ("''@x", "'''@x"),
        ] {
            assert_eq!(escape(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn plain_numbers_and_ordinary_text_stay_as_they_are() {
        for cell in [
            "-1250", "-3.5", "0", "42", "HT", "", "'quoted", "a=b", " =x", "1-2",
        ] {
            assert_eq!(escape(cell), cell, "{cell:?}");
        }
        assert_eq!(written(&["-1250", "12", "HT"]), "-1250,12,\"HT\"\n");
    }

    #[test]
    fn what_looks_like_a_number_but_is_not_one_is_escaped() {
        for cell in ["-1.", "-.5", "-1e5", "+5", "-0x10", "--1"] {
            assert_eq!(escape(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    proptest! {
        #[test]
        fn reading_a_written_cell_gives_back_the_original(
            cell in "['=+@\\t\\r\\-a0-9. ]{0,6}"
        ) {
            let written = escape(&cell);
            prop_assert_eq!(read_cell(&written), cell.as_str());
        }

        #[test]
        fn no_written_cell_begins_with_a_formula_character_unless_it_is_a_number(
            cell in "['=+@\\t\\r\\-a0-9. ]{0,6}"
        ) {
            let escaped = escape(&cell);
            prop_assert!(
                !escaped.starts_with(FORMULA_STARTS) || is_plain_number(&escaped),
                "{:?}",
                escaped
            );
        }
    }
}
