//! The outcomes CSV: its columns, the template, reading a file into
//! `Outcome` messages, and pointing a server's `outcomes[N].field` back at a
//! line and a column. It refuses only what a message cannot carry (a broken
//! row, a number that is not one, an unknown kind); every rule about the
//! values is the server's, so a file is judged exactly like any other upload.
//! Cells are written and read through `csv_cells`, so a cell escaped against
//! spreadsheet formulas (`'=...`) reads back as the text it was.

use std::collections::HashSet;
use std::fmt;

use super::csv_cells;
use crate::api::outcome_upload::MAX_UPLOAD;
use crate::domain::names::{IndicatorName, MilestoneName, OutcomeReportName};
use crate::pb::v1 as pb;

/// Most problems one reading of a file reports before it stops.
const MAX_PROBLEMS: usize = 100;

/// How a column's cell is read into an outcome.
enum Cell {
    /// The kind of outcome, by its short code or its proto name.
    Kind,
    /// Text, taken as it is: the server judges it.
    Text(fn(&mut pb::Outcome) -> &mut String),
    /// A whole number; an empty cell is 0.
    Number(fn(&mut pb::Outcome) -> &mut i64),
    /// True or false; an empty cell is false.
    YesOrNo(fn(&mut pb::Outcome) -> &mut bool),
    /// A whole number in the officials' breakdown; an empty cell leaves it out.
    Officials(fn(&mut pb::OfficialsTrained) -> &mut i64),
    /// A whole number in the victims' breakdown; an empty cell leaves it out.
    Victims(fn(&mut pb::VictimBreakdown) -> &mut i64),
    /// A resource name, or only its id: the name is completed from the id (and the report).
    Name(
        fn(&mut pb::Outcome) -> &mut String,
        fn(&str, &OutcomeReportName) -> String,
    ),
}

/// One column of the outcomes CSV.
pub struct Column {
    /// The header name.
    pub name: &'static str,
    /// The value in the template's example row.
    pub example: &'static str,
    /// What goes in it (the text of `--help`).
    pub meaning: &'static str,
    cell: Cell,
}

impl Column {
    /// Sets this column's `value` on `outcome`.
    fn set(
        &self,
        outcome: &mut pb::Outcome,
        value: &str,
        report: &OutcomeReportName,
    ) -> Result<(), String> {
        match self.cell {
            Cell::Kind => outcome.kind = kind(value)? as i32,
            Cell::Text(field) => *field(outcome) = value.to_string(),
            Cell::Number(field) => *field(outcome) = whole_number(value)?,
            Cell::YesOrNo(field) => *field(outcome) = yes_or_no(value)?,
            Cell::Officials(part) => set_part(&mut outcome.officials_trained, part, value)?,
            Cell::Victims(part) => set_part(&mut outcome.victims, part, value)?,
            Cell::Name(field, _) if value.is_empty() || value.contains('/') => {
                *field(outcome) = value.to_string();
            }
            Cell::Name(field, complete) => *field(outcome) = complete(value, report),
        }
        Ok(())
    }
}

/// The columns, in the template's order. A file may order them as it likes
/// and leave out any but `kind`.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "kind",
        example: "OFFICIALS_TRAINED",
        meaning: "Required. LAW_ENACTED, LAW_DRAFTED, CONVICTION_SECURED, INVESTIGATION_OPENED, \
                  OFFICIALS_TRAINED, GOVERNMENT_COMMITMENT, REFERRAL_MECHANISM_ESTABLISHED, \
                  VICTIMS_IDENTIFIED, VICTIMS_REFERRED, VICTIMS_ASSISTED, AWARENESS_REACHED or OTHER \
                  (the proto name, OUTCOME_KIND_LAW_ENACTED, works too; any case)",
        cell: Cell::Kind,
    },
    Column {
        name: "country_code",
        example: "HT",
        meaning: "ISO 3166-1 alpha-2 code, one of the project's countries",
        cell: Cell::Text(|outcome| &mut outcome.country_code),
    },
    Column {
        name: "outcome_date",
        example: "2014-02-14",
        meaning: "YYYY-MM-DD, inside the report's period",
        cell: Cell::Text(|outcome| &mut outcome.outcome_date),
    },
    Column {
        name: "quantity",
        example: "25",
        meaning: "how many (officials trained, victims identified, ...): a whole number; \
                  1 for a law or a conviction",
        cell: Cell::Number(|outcome| &mut outcome.quantity),
    },
    Column {
        name: "officials_police",
        example: "15",
        meaning: "officials trained, by role: police officers",
        cell: Cell::Officials(|officials| &mut officials.police),
    },
    Column {
        name: "officials_prosecutors",
        example: "6",
        meaning: "... prosecutors",
        cell: Cell::Officials(|officials| &mut officials.prosecutors),
    },
    Column {
        name: "officials_judges",
        example: "4",
        meaning: "... judges",
        cell: Cell::Officials(|officials| &mut officials.judges),
    },
    Column {
        name: "officials_labour_inspectors",
        example: "0",
        meaning: "... labour inspectors",
        cell: Cell::Officials(|officials| &mut officials.labour_inspectors),
    },
    Column {
        name: "officials_social_workers",
        example: "0",
        meaning: "... social workers",
        cell: Cell::Officials(|officials| &mut officials.social_workers),
    },
    Column {
        name: "officials_other",
        example: "0",
        meaning: "... other officials (the six together at most the quantity)",
        cell: Cell::Officials(|officials| &mut officials.other),
    },
    Column {
        name: "victims_female",
        example: "",
        meaning: "victims by sex: female",
        cell: Cell::Victims(|victims| &mut victims.female),
    },
    Column {
        name: "victims_male",
        example: "",
        meaning: "... male",
        cell: Cell::Victims(|victims| &mut victims.male),
    },
    Column {
        name: "victims_other_sex",
        example: "",
        meaning: "... another or unrecorded sex (the three together at most the quantity)",
        cell: Cell::Victims(|victims| &mut victims.other_sex),
    },
    Column {
        name: "victims_children",
        example: "",
        meaning: "victims by age group: children (under 18)",
        cell: Cell::Victims(|victims| &mut victims.children),
    },
    Column {
        name: "victims_adults",
        example: "",
        meaning: "... adults (the two together at most the quantity)",
        cell: Cell::Victims(|victims| &mut victims.adults),
    },
    Column {
        name: "first_for_country",
        example: "false",
        meaning: "the first such result in the country: true or false (yes/no, 1/0; empty is false)",
        cell: Cell::YesOrNo(|outcome| &mut outcome.first_for_country),
    },
    Column {
        name: "description",
        example: "Two-day course on victim identification, Port-au-Prince",
        meaning: "what happened, at most 10,000 characters (quote a value with commas: \"a, b\")",
        cell: Cell::Text(|outcome| &mut outcome.description),
    },
    Column {
        name: "evidence_uri",
        example: "https://example.org/rosters/2014-02-14.pdf",
        meaning: "a link to the evidence, http:// or https://",
        cell: Cell::Text(|outcome| &mut outcome.evidence_uri),
    },
    Column {
        name: "indicator",
        example: "",
        meaning: "the indicator it counts toward: the id, or the whole name \
                  grants/.../projects/.../indicators/ID; empty for none",
        cell: Cell::Name(
            |outcome| &mut outcome.indicator,
            |id, report| IndicatorName::new(&report.grant, &report.project, id).to_string(),
        ),
    },
    Column {
        name: "milestone",
        example: "",
        meaning: "an existing milestone it reports: the id or milestones/ID; empty lets the \
                  server link laws, first convictions, referral mechanisms and commitments to \
                  the milestone of the same country, kind and date",
        cell: Cell::Name(
            |outcome| &mut outcome.milestone,
            |id, _| MilestoneName::new(id).to_string(),
        ),
    },
];

/// A kind by its short code or its proto name, in any case.
fn kind(value: &str) -> Result<pb::OutcomeKind, String> {
    let upper = value.to_ascii_uppercase();
    let proto_name = if upper.starts_with("OUTCOME_KIND_") {
        upper
    } else {
        format!("OUTCOME_KIND_{upper}")
    };
    match pb::OutcomeKind::from_str_name(&proto_name) {
        Some(pb::OutcomeKind::Unspecified) | None if value.is_empty() => {
            Err("is required: one of the kinds in `tipgrants outcomes template --help`".into())
        }
        Some(pb::OutcomeKind::Unspecified) | None => Err(format!(
            "{value:?} is not a kind of outcome ({})",
            kind_codes().join(", ")
        )),
        Some(kind) => Ok(kind),
    }
}

/// The short codes of every outcome kind, in proto order.
fn kind_codes() -> Vec<&'static str> {
    (1..)
        .map_while(|number| pb::OutcomeKind::try_from(number).ok())
        .filter_map(|kind| kind.as_str_name().strip_prefix("OUTCOME_KIND_"))
        .collect()
}

/// A whole number; an empty cell is 0. Negative numbers pass: the server names them.
fn whole_number(value: &str) -> Result<i64, String> {
    if value.is_empty() {
        return Ok(0);
    }
    value
        .parse()
        .map_err(|_| format!("{value:?} is not a whole number"))
}

fn yes_or_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "n" | "0" => Ok(false),
        "true" | "yes" | "y" | "1" => Ok(true),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

/// Sets one part of a breakdown (officials, victims) to a whole number; an empty cell leaves
/// it out.
fn set_part<Breakdown: Default>(
    breakdown: &mut Option<Breakdown>,
    part: fn(&mut Breakdown) -> &mut i64,
    value: &str,
) -> Result<(), String> {
    if !value.is_empty() {
        let part = part(breakdown.get_or_insert_with(Default::default));
        *part = whole_number(value)?;
    }
    Ok(())
}

/// The `--help` text of the columns.
pub fn columns_help() -> String {
    let width = COLUMNS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut help = String::from(
        "Columns (the first line names them, in any order; only kind is required, \
         and an empty cell is no value):\n",
    );
    for column in COLUMNS {
        help.push_str(&format!(
            "  {:<width$}  {}\n",
            column.name,
            column
                .meaning
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    help
}

/// Writes the header and the example row.
pub fn write_template(out: impl std::io::Write) -> csv::Result<()> {
    let mut writer = csv_cells::writer(out);
    writer.write_record(COLUMNS.iter().map(|column| column.name))?;
    writer.write_record(COLUMNS.iter().map(|column| column.example))?;
    writer.flush()?;
    Ok(())
}

/// A problem with a file, at a line, and in a column when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file; 0 when the problem is with the whole file.
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(formatter, "line {}: ", self.line)?;
        }
        if let Some(column) = &self.column {
            write!(formatter, "{column}: ")?;
        }
        formatter.write_str(&self.message)
    }
}

impl Problem {
    fn at(line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        Problem {
            line,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }
}

/// A file, read: its outcomes in order, and the line each one starts on.
#[derive(Debug, Default)]
pub struct OutcomeFile {
    pub outcomes: Vec<pb::Outcome>,
    /// `lines[n]`: the line of `outcomes[n]` (its first line, when a quoted value spans several).
    pub lines: Vec<u64>,
}

impl OutcomeFile {
    /// The line and the column that the server's field path `outcomes[N].field` names, if it names one.
    pub fn locate(&self, field: &str) -> Option<(u64, String)> {
        let rest = field.strip_prefix("outcomes[")?;
        let (index, rest) = rest.split_once(']')?;
        let line = *self.lines.get(index.parse::<usize>().ok()?)?;
        let column = match rest.strip_prefix('.').unwrap_or(rest) {
            "officials_trained" => "officials_*".to_string(),
            "victims" => "victims_*".to_string(),
            path => path
                .replace("officials_trained.", "officials_")
                .replace('.', "_"),
        };
        Some((line, column))
    }
}

/// Reads a whole file: the outcomes, or every problem (up to a hundred) with its line.
pub fn read(bytes: &[u8], report: &OutcomeReportName) -> Result<OutcomeFile, Vec<Problem>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|error| vec![csv_problem(&error)])?
        .clone();
    let columns = header_columns(&header)?;
    let mut file = OutcomeFile::default();
    let mut problems = Vec::new();
    for record in reader.records() {
        if problems.len() >= MAX_PROBLEMS {
            problems.push(Problem::at(
                0,
                None,
                "more problems not shown: fix these first",
            ));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(csv_problem(&error));
                continue;
            }
        };
        let line = record.position().map_or(0, |position| position.line());
        if file.outcomes.len() == MAX_UPLOAD {
            problems.push(Problem::at(
                line,
                None,
                format!("a file may carry at most {MAX_UPLOAD} outcomes: split it"),
            ));
            break;
        }
        if record.len() != columns.len() {
            problems.push(Problem::at(
                line,
                None,
                format!(
                    "the row has {} values, the header {} columns (a value with a comma needs \"quotes\")",
                    record.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let mut outcome = pb::Outcome::default();
        for (column, value) in columns.iter().zip(record.iter()) {
            if let Err(message) = column.set(&mut outcome, csv_cells::read_cell(value), report) {
                problems.push(Problem::at(line, Some(column.name), message));
            }
        }
        file.outcomes.push(outcome);
        file.lines.push(line);
    }
    if problems.is_empty() && file.outcomes.is_empty() {
        problems.push(Problem::at(
            0,
            None,
            "the file has a header but no outcomes below it",
        ));
    }
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems)
    }
}

/// The column of each header name; unknown and repeated names, and a missing `kind`, are problems.
fn header_columns(header: &csv::StringRecord) -> Result<Vec<&'static Column>, Vec<Problem>> {
    let line = header.position().map_or(1, |position| position.line());
    let mut columns = Vec::with_capacity(header.len());
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for name in header.iter() {
        // Spreadsheets often start a UTF-8 file with a byte-order mark.
        let name = name
            .trim_start_matches('\u{feff}')
            .trim()
            .to_ascii_lowercase();
        match COLUMNS.iter().find(|column| column.name == name) {
            Some(column) if seen.insert(column.name) => columns.push(column),
            Some(column) => problems.push(Problem::at(
                line,
                Some(column.name),
                "is named twice in the header",
            )),
            None => problems.push(Problem::at(
                line,
                None,
                format!(
                    "the header names {name:?}, which is not a column \
                     (see `tipgrants outcomes template --help`)"
                ),
            )),
        }
    }
    if !seen.contains("kind") {
        problems.push(Problem::at(
            line,
            None,
            "the header has no kind column (the first line must name the columns: \
             see `tipgrants outcomes template`)",
        ));
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

/// A CSV reader's error, at its line.
fn csv_problem(error: &csv::Error) -> Problem {
    let line = error.position().map_or(0, |position| position.line());
    let message = match error.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "is not UTF-8 text (save the file as \"CSV UTF-8\")".to_string()
        }
        _ => error.to_string(),
    };
    Problem::at(line, None, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> OutcomeReportName {
        OutcomeReportName::new("g1", "p1", "r1")
    }

    fn read_text(text: &str) -> Result<OutcomeFile, Vec<String>> {
        read(text.as_bytes(), &report())
            .map_err(|problems| problems.iter().map(Problem::to_string).collect())
    }

    #[test]
    fn the_template_reads_back_as_its_example_outcome() {
        let mut template = Vec::new();
        write_template(&mut template).unwrap();

        let file = read(&template, &report()).unwrap();

        assert_eq!(file.lines, [2]);
        let outcome = &file.outcomes[0];
        assert_eq!(outcome.kind, pb::OutcomeKind::OfficialsTrained as i32);
        assert_eq!(
            (outcome.country_code.as_str(), outcome.quantity),
            ("HT", 25)
        );
        let officials = outcome.officials_trained.unwrap();
        assert_eq!((officials.police, officials.judges), (15, 4));
        assert_eq!(outcome.victims, None);
        assert!(!outcome.first_for_country);
    }

    #[test]
    fn cells_escaped_against_spreadsheet_formulas_read_back_as_written() {
        let hostile = [
            "=HYPERLINK(\"http://x\",\"y\")",
            "-2+3",
            "@SUM(A1)",
            "'=already quoted",
            "+",
        ];
        let mut file = Vec::new();
        let mut csv = csv_cells::writer(&mut file);
        csv.write_record(["kind", "description", "evidence_uri", "quantity"])
            .unwrap();
        for text in hostile {
            csv.write_record(["OTHER", text, text, "-5"]).unwrap();
        }
        csv.flush().unwrap();
        drop(csv);

        let read = read(&file, &report()).unwrap();

        let descriptions: Vec<&str> = read
            .outcomes
            .iter()
            .map(|outcome| outcome.description.as_str())
            .collect();
        assert_eq!(descriptions, hostile);
        assert!(
            read.outcomes.iter().all(
                |outcome| outcome.quantity == -5 && outcome.evidence_uri == outcome.description
            )
        );
        assert!(String::from_utf8(file).unwrap().contains("\"'=HYPERLINK("));
    }

    #[test]
    fn a_kind_is_read_by_its_short_code_or_its_proto_name_in_any_case() {
        let file = read_text("kind\nLAW_ENACTED\noutcome_kind_law_drafted\n Other \n").unwrap();

        let kinds: Vec<i32> = file.outcomes.iter().map(|o| o.kind).collect();
        assert_eq!(
            kinds,
            [
                pb::OutcomeKind::LawEnacted as i32,
                pb::OutcomeKind::LawDrafted as i32,
                pb::OutcomeKind::Other as i32
            ]
        );
    }

    #[test]
    fn columns_may_come_in_any_order_and_short_names_are_completed_from_the_report() {
        let file = read_text(
            "Indicator,quantity,KIND,milestone\nind1,3,law_enacted,m9\n,,other,milestones/m8\n",
        )
        .unwrap();

        assert_eq!(
            file.outcomes[0].indicator,
            "grants/g1/projects/p1/indicators/ind1"
        );
        assert_eq!(file.outcomes[0].milestone, "milestones/m9");
        assert_eq!(file.outcomes[0].quantity, 3);
        assert_eq!(file.outcomes[1].indicator, "");
        assert_eq!(file.outcomes[1].milestone, "milestones/m8");
    }

    #[test]
    fn values_a_message_cannot_carry_are_named_by_line_and_column() {
        let problems =
            read_text("kind,quantity,first_for_country\nLAW,1,no\nOTHER,2.5,maybe\n").unwrap_err();

        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 2: kind: \"LAW\" is not a kind of outcome"));
        assert_eq!(
            problems[1],
            "line 3: quantity: \"2.5\" is not a whole number"
        );
        assert_eq!(
            problems[2],
            "line 3: first_for_country: \"maybe\" is not true or false"
        );
    }

    #[test]
    fn a_row_with_too_many_values_is_named_by_its_line() {
        let problems =
            read_text("kind,description\nOTHER,\"a, b\"\nOTHER,a, b\nOTHER,c\n").unwrap_err();

        assert_eq!(
            problems,
            [
                "line 3: the row has 3 values, the header 2 columns (a value with a comma needs \"quotes\")"
            ]
        );
    }

    #[test]
    fn a_quoted_value_over_several_lines_keeps_the_line_where_its_row_starts() {
        let file = read_text("kind,description\nOTHER,\"one\ntwo\"\nOTHER,three\n").unwrap();

        assert_eq!(file.lines, [2, 4]);
        assert_eq!(file.outcomes[0].description, "one\ntwo");
    }

    #[test]
    fn an_unknown_or_repeated_header_or_a_missing_kind_is_refused_before_any_row() {
        let problems = read_text("\u{feff}kind,countries,kind\nOTHER,HT,OTHER\n").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("line 1: the header names \"countries\""));
        assert_eq!(problems[1], "line 1: kind: is named twice in the header");

        let problems = read_text("quantity\n3\n").unwrap_err();
        assert!(problems[0].starts_with("line 1: the header has no kind column"));
    }

    #[test]
    fn a_file_without_outcomes_is_refused() {
        assert_eq!(
            read_text("kind\n").unwrap_err(),
            ["the file has a header but no outcomes below it"]
        );
    }

    #[test]
    fn a_server_field_path_points_at_the_line_and_the_column() {
        let file = read_text("kind\nOTHER\nOTHER\n").unwrap();

        assert_eq!(
            file.locate("outcomes[1].country_code"),
            Some((3, "country_code".to_string()))
        );
        assert_eq!(
            file.locate("outcomes[0].officials_trained"),
            Some((2, "officials_*".to_string()))
        );
        assert_eq!(
            file.locate("outcomes[0].victims.female"),
            Some((2, "victims_female".to_string()))
        );
        assert_eq!(file.locate("outcomes[2].kind"), None);
        assert_eq!(file.locate("header.outcome_report"), None);
    }

    #[test]
    fn every_column_is_documented_in_the_guide_to_the_csv() {
        let guide = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/outcomes-csv.md"),
        )
        .unwrap();

        for column in COLUMNS {
            assert!(
                guide.contains(&format!("| `{}` |", column.name)),
                "docs/outcomes-csv.md does not document the column {}",
                column.name
            );
        }
    }
}
