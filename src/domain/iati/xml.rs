//! Writes the IATI 2.03 XML with quick-xml (text and attributes escaped by it): the document's
//! start, one `iati-activity` at a time as bytes, and the document's end, so an export holds one
//! activity in memory, never the document. Elements come in the order the 2.03 schema's sequence
//! requires; what each says is decided in `super`.

use std::io;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::{
    ActivityContext, ActivityFacts, Publisher, activity_status, budgets, dollars, identifier,
    organization_type, percentages, results, sector, transactions,
};
use crate::error::{Error, Result};

/// The IATI version the file declares.
const VERSION: &str = "2.03";
/// Every amount is in US dollars.
const CURRENCY: &str = "USD";

type XmlWriter = Writer<Vec<u8>>;

fn failed(error: io::Error) -> Error {
    Error::Internal(format!("writing the IATI document: {error}"))
}

fn iso_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The document's first bytes: the XML declaration and the opening `iati-activities` tag.
pub fn document_start(generated: DateTime<Utc>) -> Result<Vec<u8>> {
    let mut writer = Writer::new(Vec::new());
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(failed)?;
    let mut start = BytesStart::new("iati-activities");
    start.push_attribute(("version", VERSION));
    start.push_attribute((
        "generated-datetime",
        generated
            .to_rfc3339_opts(SecondsFormat::Secs, true)
            .as_str(),
    ));
    writer
        .write_event(Event::Text(BytesText::from_escaped("\n")))
        .map_err(failed)?;
    writer.write_event(Event::Start(start)).map_err(failed)?;
    writer
        .write_event(Event::Text(BytesText::from_escaped("\n")))
        .map_err(failed)?;
    Ok(writer.into_inner())
}

/// The document's last bytes: the closing tag.
pub fn document_end() -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_event(Event::End(BytesEnd::new("iati-activities")));
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

/// One `iati-activity` element, as bytes to append to the document.
pub fn write_activity(activity: &ActivityFacts, context: &ActivityContext<'_>) -> Result<Vec<u8>> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let last_updated = activity
        .last_updated
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    writer
        .create_element("iati-activity")
        .with_attribute(("last-updated-datetime", last_updated.as_str()))
        .with_attribute(("xml:lang", "en"))
        .with_attribute(("default-currency", CURRENCY))
        .with_attribute(("hierarchy", "1"))
        .write_inner_content(|writer| write_content(writer, activity, context))
        .map_err(failed)?;
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

/// An element holding one `narrative`.
fn narrative_element(
    writer: &mut XmlWriter,
    name: &str,
    attributes: &[(&str, &str)],
    text: &str,
) -> io::Result<()> {
    writer
        .create_element(name)
        .with_attributes(attributes.iter().copied())
        .write_inner_content(|writer| narrative(writer, text))?;
    Ok(())
}

fn narrative(writer: &mut XmlWriter, text: &str) -> io::Result<()> {
    writer
        .create_element("narrative")
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn empty(writer: &mut XmlWriter, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
    writer
        .create_element(name)
        .with_attributes(attributes.iter().copied())
        .write_empty()?;
    Ok(())
}

fn write_content(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    context: &ActivityContext<'_>,
) -> io::Result<()> {
    let publisher = context.publisher;
    writer
        .create_element("iati-identifier")
        .write_text_content(BytesText::new(&identifier(
            publisher,
            &activity.award_number,
        )))?;
    let office_type = publisher.organization_type.to_string();
    narrative_element(
        writer,
        "reporting-org",
        &[
            ("ref", publisher.identifier.as_str()),
            ("type", office_type.as_str()),
        ],
        &publisher.name,
    )?;
    narrative_element(writer, "title", &[], &activity.title)?;
    narrative_element(
        writer,
        "description",
        &[("type", "1")],
        &description(activity),
    )?;
    write_participants(writer, activity, publisher)?;
    let today = context.today;
    let status = activity_status(activity.state, activity.end, today).to_string();
    empty(writer, "activity-status", &[("code", status.as_str())])?;
    write_dates(writer, activity, today)?;
    write_places(writer, activity)?;
    let pillars = percentages(activity.pillars.len());
    for (pillar, percentage) in activity.pillars.iter().zip(&pillars) {
        let (code, name) = sector(*pillar);
        narrative_element(
            writer,
            "sector",
            &[
                ("vocabulary", "1"),
                ("code", code),
                ("percentage", percentage.as_str()),
            ],
            name,
        )?;
    }
    write_money(writer, activity, context)?;
    write_evidence(writer, activity, context)?;
    write_results(writer, activity, context)
}

/// The projects' titles and summaries; the grant's title when it has none.
fn description(activity: &ActivityFacts) -> String {
    let parts: Vec<String> = activity
        .projects
        .iter()
        .map(|(title, summary)| match summary.trim() {
            "" => title.clone(),
            summary => format!("{title}: {summary}"),
        })
        .collect();
    if parts.is_empty() {
        activity.title.clone()
    } else {
        parts.join("\n\n")
    }
}

/// Funding (1): the office; implementing (4): the grantee.
fn write_participants(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    publisher: &Publisher,
) -> io::Result<()> {
    let office_type = publisher.organization_type.to_string();
    narrative_element(
        writer,
        "participating-org",
        &[
            ("role", "1"),
            ("ref", publisher.identifier.as_str()),
            ("type", office_type.as_str()),
        ],
        &publisher.name,
    )?;
    let grantee_type = organization_type(&activity.grantee, &activity.countries).to_string();
    narrative_element(
        writer,
        "participating-org",
        &[("role", "4"), ("type", grantee_type.as_str())],
        &activity.grantee.name,
    )
}

/// Planned start (1) and end (3) from the period of performance; actual start (2) once the grant
/// left draft and its start has come; actual end (4) once it is closed or terminated.
fn write_dates(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    today: NaiveDate,
) -> io::Result<()> {
    use crate::domain::grant::GrantState;
    let start = iso_date(activity.start);
    let end = iso_date(activity.end);
    empty(
        writer,
        "activity-date",
        &[("type", "1"), ("iso-date", &start)],
    )?;
    if activity.state != GrantState::Draft && activity.start <= today {
        empty(
            writer,
            "activity-date",
            &[("type", "2"), ("iso-date", &start)],
        )?;
    }
    empty(
        writer,
        "activity-date",
        &[("type", "3"), ("iso-date", &end)],
    )?;
    if matches!(activity.state, GrantState::Closed | GrantState::Terminated) {
        let actual_end = iso_date(activity.end.min(today));
        empty(
            writer,
            "activity-date",
            &[("type", "4"), ("iso-date", &actual_end)],
        )?;
    }
    Ok(())
}

/// Every country, sharing 100%; a regional activity (countries of several) also names each
/// region (the office's bureaus, vocabulary 99) without a share: the countries carry it.
fn write_places(writer: &mut XmlWriter, activity: &ActivityFacts) -> io::Result<()> {
    let shares = percentages(activity.countries.len());
    for (country, percentage) in activity.countries.iter().zip(&shares) {
        empty(
            writer,
            "recipient-country",
            &[
                ("code", country.code.as_str()),
                ("percentage", percentage.as_str()),
            ],
        )?;
    }
    if activity.countries.len() > 1 {
        let mut regions: Vec<(&str, &str)> = activity
            .countries
            .iter()
            .filter(|country| !country.region_code.is_empty())
            .map(|country| (country.region_code.as_str(), country.region_name.as_str()))
            .collect();
        regions.sort();
        regions.dedup();
        for (code, name) in regions {
            narrative_element(
                writer,
                "recipient-region",
                &[("code", code), ("vocabulary", "99")],
                name,
            )?;
        }
    }
    Ok(())
}

/// A `value` element: dollars, dated.
fn value(
    writer: &mut XmlWriter,
    amount: crate::domain::money::Cents,
    date: NaiveDate,
) -> io::Result<()> {
    writer
        .create_element("value")
        .with_attribute(("currency", CURRENCY))
        .with_attribute(("value-date", iso_date(date).as_str()))
        .write_text_content(BytesText::new(&dollars(amount)))?;
    Ok(())
}

/// Budgets (original, committed) by fiscal year of funds, then the transactions.
fn write_money(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    context: &ActivityContext<'_>,
) -> io::Result<()> {
    for budget in budgets(activity, context) {
        writer
            .create_element("budget")
            .with_attribute(("type", "1"))
            .with_attribute(("status", "2"))
            .write_inner_content(|writer| {
                empty(
                    writer,
                    "period-start",
                    &[("iso-date", &iso_date(budget.start))],
                )?;
                empty(writer, "period-end", &[("iso-date", &iso_date(budget.end))])?;
                value(writer, budget.value, budget.start)
            })?;
    }
    let publisher = context.publisher;
    for transaction in transactions(activity, context) {
        writer
            .create_element("transaction")
            .write_inner_content(|writer| {
                let code = transaction.kind.code().to_string();
                empty(writer, "transaction-type", &[("code", code.as_str())])?;
                empty(
                    writer,
                    "transaction-date",
                    &[("iso-date", &iso_date(transaction.date))],
                )?;
                value(writer, transaction.value, transaction.date)?;
                narrative_element(writer, "description", &[], &transaction.description)?;
                narrative_element(
                    writer,
                    "provider-org",
                    &[("ref", publisher.identifier.as_str())],
                    &publisher.name,
                )?;
                narrative_element(writer, "receiver-org", &[], &activity.grantee.name)
            })?;
    }
    Ok(())
}

/// Each evidence link of an accepted outcome in the years asked for, as a document of category
/// A08 (results, outcomes and outputs), titled by the outcome's description unless it counts
/// victims.
fn write_evidence(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    context: &ActivityContext<'_>,
) -> io::Result<()> {
    for link in activity.evidence.iter().filter(|link| link.is_in(context)) {
        writer
            .create_element("document-link")
            .with_attribute(("url", link.uri.as_str()))
            .with_attribute(("format", "text/html"))
            .write_inner_content(|writer| {
                // A description may say how many victims: only the link of such an outcome goes out.
                let title = match link.description.trim() {
                    _ if link.counts_victims => "Evidence of a reported outcome",
                    "" => "Evidence of a reported outcome",
                    description => description,
                };
                narrative_element(writer, "title", &[], title)?;
                empty(writer, "category", &[("code", "A08")])?;
                if let Some(date) = link.date {
                    empty(writer, "document-date", &[("iso-date", &iso_date(date))])?;
                }
                Ok(())
            })?;
    }
    Ok(())
}

fn write_results(
    writer: &mut XmlWriter,
    activity: &ActivityFacts,
    context: &ActivityContext<'_>,
) -> io::Result<()> {
    for result in results(activity, context) {
        let result_type = result.result_type.to_string();
        writer
            .create_element("result")
            .with_attribute(("type", result_type.as_str()))
            .with_attribute(("aggregation-status", "1"))
            .write_inner_content(|writer| {
                narrative_element(writer, "title", &[], &result.title)?;
                writer
                    .create_element("indicator")
                    .with_attribute(("measure", "1"))
                    .with_attribute(("ascending", "1"))
                    .write_inner_content(|writer| {
                        narrative_element(
                            writer,
                            "title",
                            &[],
                            &format!("{} ({})", result.title, result.unit),
                        )?;
                        let year = result.baseline_year.max(1).to_string();
                        let baseline = result.baseline.to_string();
                        empty(
                            writer,
                            "baseline",
                            &[("year", year.as_str()), ("value", baseline.as_str())],
                        )?;
                        for period in &result.periods {
                            writer.create_element("period").write_inner_content(|writer| {
                                empty(writer, "period-start", &[("iso-date", &iso_date(period.start))])?;
                                empty(writer, "period-end", &[("iso-date", &iso_date(period.end))])?;
                                if let Some(target) = period.target {
                                    empty(writer, "target", &[("value", target.to_string().as_str())])?;
                                }
                                match period.actual {
                                    Some(actual) => empty(
                                        writer,
                                        "actual",
                                        &[("value", actual.to_string().as_str())],
                                    )?,
                                    // Withheld under the k rule: the actual is there, its value not.
                                    None => writer.create_element("actual").write_inner_content(
                                        |writer| {
                                            narrative_element(
                                                writer,
                                                "comment",
                                                &[],
                                                "Withheld: fewer than the published minimum of victims in a part",
                                            )
                                        },
                                    ).map(|_| ())?,
                                }
                                Ok(())
                            })?;
                        }
                        Ok(())
                    })?;
                Ok(())
            })?;
    }
    Ok(())
}
