//! The results file (one `key value` per line, appended by each run and by
//! `scripts/bench.sh` for pgbench and psql) and the one table printed from it:
//! absolute numbers, ratios to PostgreSQL's own figures, and each goal of
//! issues 12 and 24 met or not.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Appends `key value` lines.
pub fn append(path: &Path, pairs: &[(String, String)]) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    for (key, value) in pairs {
        writeln!(file, "{key} {value}").map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(())
}

/// The results, later lines winning.
pub fn load(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect())
}

/// One row of the table.
struct Row {
    goal: &'static str,
    measure: String,
    value: String,
    yardstick: String,
    ratio: String,
    target: &'static str,
    met: Verdict,
}

#[derive(Clone, Copy)]
enum Verdict {
    Met,
    Unmet,
    Missing,
    Info,
}

impl Verdict {
    fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Unmet }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "yes",
            Verdict::Unmet => "**no**",
            Verdict::Missing => "not measured",
            Verdict::Info => "",
        }
    }
}

struct Results(BTreeMap<String, String>);

impl Results {
    fn number(&self, key: &str) -> Option<f64> {
        self.0.get(key)?.parse().ok()
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

fn per_second(rate: f64) -> String {
    let whole = rate.round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}/s")
}

fn ms(micros: f64) -> String {
    if micros < 10_000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.0} ms", micros / 1000.0)
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn percent(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// P2's goal, and P8's admitted calls may take three times as long.
const P2_P99_MS: f64 = 5.0;
const P8_REFUSAL_MS: f64 = 10.0;
/// P9: a report takes at most this many times one SQL GROUP BY of its outcomes.
const P9_TIMES_SQL: f64 = 2.0;

/// Issue 21: audited writes through two replicas at least this many times through one.
const TWO_REPLICAS_TIMES_ONE: f64 = 1.6;

/// Audited CreateOrganization through 1, 2 and 3 replicas on one PostgreSQL (issue 21).
fn replicas(results: &Results) -> Vec<Row> {
    let one = results.number("replicas.1.creates_per_second");
    let in_flight = results
        .text("postgres.concurrency")
        .unwrap_or("?")
        .to_string();
    let mut rows = Vec::new();
    for count in [1u32, 2, 3] {
        let key = format!("replicas.{count}");
        let measure = format!(
            "audited CreateOrganization through {count} replica(s) on one PostgreSQL, {in_flight} in flight each"
        );
        let target = if count == 2 {
            ">= 1.6x one replica"
        } else {
            ""
        };
        let Some(rate) = results.number(&format!("{key}.creates_per_second")) else {
            rows.push(missing("R", measure, target));
            continue;
        };
        let failed = results.number(&format!("{key}.failed")).unwrap_or(0.0);
        let ratio = one
            .map(|one| format!("{:.2}x", rate / one))
            .unwrap_or_default();
        let met = match (count, one) {
            (2, Some(one)) => Verdict::of(rate >= TWO_REPLICAS_TIMES_ONE * one && failed == 0.0),
            (2, None) => Verdict::Missing,
            _ => Verdict::Info,
        };
        rows.push(Row {
            goal: "R",
            measure,
            value: format!("{} ({failed} failed)", per_second(rate)),
            yardstick: if count == 1 {
                String::new()
            } else {
                "one replica".into()
            },
            ratio: if count == 1 { String::new() } else { ratio },
            target,
            met,
        });
    }
    rows
}

/// The table, in Markdown, and how many goals were unmet.
pub fn table(path: &Path) -> Result<(String, usize), String> {
    let results = Results(load(path)?);
    let mut rows = Vec::new();
    let concurrency = results.text("postgres.concurrency").unwrap_or("?");
    let connections = results.text("postgres.connections").unwrap_or("?");
    let clients = results.text("pgbench.clients").unwrap_or("?");
    let select = results.number("pgbench.select.tps");
    let tpcb = results.number("pgbench.tpcb.tps");

    for (scenario, method) in [
        ("get-organization", "GetOrganization"),
        ("get-grant", "GetGrant"),
    ] {
        let measure = format!(
            "{method}, closed loop, {concurrency} in flight over {connections} connections"
        );
        rows.push(versus(
            &results,
            "P1",
            measure,
            &format!("postgres.closed.{scenario}"),
            select.map(|tps| (tps, format!("pgbench -S -M prepared, {clients} clients"))),
            0.25,
            ">= 25%",
        ));
    }
    for (scenario, method) in [
        ("get-organization", "GetOrganization"),
        ("get-grant", "GetGrant"),
    ] {
        let key = format!("postgres.open.{scenario}");
        let row = match (
            results.number(&format!("{key}.target_rate")),
            results.number(&format!("{key}.p99_us")),
        ) {
            (Some(rate), Some(p99)) => {
                let failed = results.number(&format!("{key}.failed")).unwrap_or(0.0);
                Row {
                    goal: "P2",
                    measure: format!("{method}, open loop at {} (half of P1)", per_second(rate)),
                    value: format!(
                        "p99 {}, p99.9 {}{}",
                        ms(p99),
                        ms(results.number(&format!("{key}.p999_us")).unwrap_or(0.0)),
                        if failed > 0.0 {
                            format!(", {failed} failed")
                        } else {
                            String::new()
                        }
                    ),
                    yardstick: String::new(),
                    ratio: String::new(),
                    target: "p99 <= 5 ms",
                    met: Verdict::of(p99 <= P2_P99_MS * 1000.0 && failed == 0.0),
                }
            }
            _ => missing(
                "P2",
                format!("{method}, open loop at half of P1"),
                "p99 <= 5 ms",
            ),
        };
        rows.push(row);
    }
    rows.push(versus(
        &results,
        "P3",
        format!(
            "CreateOrganization (audited, fresh request_id), closed loop, {concurrency} in flight"
        ),
        "postgres.closed.create-organization",
        tpcb.map(|tps| (tps, format!("pgbench TPC-B, {clients} clients"))),
        0.5,
        ">= 50%",
    ));
    rows.push(match results.number("postgres.memory.idle_kib") {
        Some(idle) => Row {
            goal: "P7",
            measure: "resident memory (VmRSS), idle after start".into(),
            value: match (
                results.number("postgres.memory.idle_anon_kib"),
                results.number("postgres.memory.idle_file_kib"),
            ) {
                (Some(anon), Some(file)) => format!(
                    "{} ({} the server's own, {} mapped code and libraries)",
                    mib(idle),
                    mib(anon),
                    mib(file)
                ),
                _ => mib(idle),
            },
            yardstick: String::new(),
            ratio: String::new(),
            target: "<= 15 MiB",
            met: Verdict::of(idle <= 15.0 * 1024.0),
        },
        None => missing("P7", "resident memory, idle".into(), "<= 15 MiB"),
    });
    rows.push(
        match (
            results.number("postgres.memory.peak_kib"),
            results.number("postgres.memory.hwm_kib"),
        ) {
            (Some(peak), Some(hwm)) => Row {
                goal: "P7",
                measure: format!(
                    "resident memory with {} calls in flight (GetOrganization over {} connections; {} answered, {} refused)",
                    results.text("postgres.memory.in_flight").unwrap_or("?"),
                    results.text("postgres.memory.connections").unwrap_or("?"),
                    results.text("postgres.memory.run.ok").unwrap_or("?"),
                    results.text("postgres.memory.run.failed").unwrap_or("?"),
                ),
                value: format!("{} (VmHWM {})", mib(peak), mib(hwm)),
                yardstick: String::new(),
                ratio: String::new(),
                target: "<= 150 MiB",
                met: Verdict::of(hwm <= 150.0 * 1024.0),
            },
            _ => missing(
                "P7",
                "resident memory with 10,000 calls in flight".into(),
                "<= 150 MiB",
            ),
        },
    );
    if let (Some(peak), Some(hwm)) = (
        results.number("postgres-served.memory.peak_kib"),
        results.number("postgres-served.memory.hwm_kib"),
    ) {
        rows.push(Row {
            goal: "P7",
            measure: format!(
                "the same with all of them served at once (server.max_calls_in_flight = {}; {} answered, {} refused)",
                results.text("postgres-served.memory.in_flight").unwrap_or("?"),
                results.text("postgres-served.memory.run.ok").unwrap_or("?"),
                results.text("postgres-served.memory.run.failed").unwrap_or("?"),
            ),
            value: format!("{} (VmHWM {})", mib(peak), mib(hwm)),
            yardstick: String::new(),
            ratio: String::new(),
            target: "<= 150 MiB",
            met: Verdict::of(hwm <= 150.0 * 1024.0),
        });
    }
    rows.extend(overload(&results));
    rows.extend(reports(&results));
    rows.extend(replicas(&results));
    for (scenario, method) in [
        ("get-organization", "GetOrganization"),
        ("get-grant", "GetGrant"),
    ] {
        let postgres = results.number(&format!("postgres.closed.{scenario}.rate"));
        rows.push(versus(
            &results,
            "--",
            format!("{method} on embedded SQLite, same loop"),
            &format!("sqlite.closed.{scenario}"),
            postgres.map(|rate| (rate, "the same call on PostgreSQL (P1)".to_string())),
            1.0,
            ">= 100%",
        ));
    }
    for (key, measure) in [
        (
            "postgres.closed.health",
            "grpc.health.v1.Health/Check (no token, no database)",
        ),
        (
            "sqlite.memory.idle_kib",
            "SQLite: resident memory, idle after start",
        ),
    ] {
        let value = if key.ends_with("kib") {
            results.number(key).map(mib)
        } else {
            results.number(&format!("{key}.rate")).map(|rate| {
                format!(
                    "{}, p99 {}",
                    per_second(rate),
                    ms(results.number(&format!("{key}.p99_us")).unwrap_or(0.0))
                )
            })
        };
        if let Some(value) = value {
            rows.push(Row {
                goal: "info",
                measure: measure.into(),
                value,
                yardstick: String::new(),
                ratio: String::new(),
                target: "",
                met: Verdict::Info,
            });
        }
    }

    let unmet = rows
        .iter()
        .filter(|row| matches!(row.met, Verdict::Unmet | Verdict::Missing))
        .count();
    let mut out = String::from(
        "| # | measure | tipgrants | yardstick | ratio | goal | met |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.goal,
            row.measure,
            row.value,
            row.yardstick,
            row.ratio,
            row.target,
            row.met.text()
        ));
    }
    Ok((out, unmet))
}

fn missing(goal: &'static str, measure: String, target: &'static str) -> Row {
    Row {
        goal,
        measure,
        value: "-".into(),
        yardstick: String::new(),
        ratio: String::new(),
        target,
        met: Verdict::Missing,
    }
}

/// A rate against a yardstick rate.
fn versus(
    results: &Results,
    goal: &'static str,
    measure: String,
    key: &str,
    yardstick: Option<(f64, String)>,
    at_least: f64,
    target: &'static str,
) -> Row {
    let Some(rate) = results.number(&format!("{key}.rate")) else {
        return missing(goal, measure, target);
    };
    let failed = results.number(&format!("{key}.failed")).unwrap_or(0.0);
    let value = format!(
        "{}, p99 {}{}",
        per_second(rate),
        ms(results.number(&format!("{key}.p99_us")).unwrap_or(0.0)),
        if failed > 0.0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    match yardstick {
        Some((reference, name)) if reference > 0.0 => Row {
            goal,
            measure,
            value,
            yardstick: format!("{name}: {}", per_second(reference)),
            ratio: percent(rate / reference),
            target,
            met: Verdict::of(rate / reference >= at_least && failed == 0.0),
        },
        _ => Row {
            goal,
            measure,
            value,
            yardstick: "not measured".into(),
            ratio: String::new(),
            target,
            met: Verdict::Missing,
        },
    }
}

/// P8: the refusals at twice the sustainable rate, and the admitted calls.
fn overload(results: &Results) -> Vec<Row> {
    let key = "postgres.overload.get-organization";
    let Some(rate) = results.number(&format!("{key}.target_rate")) else {
        return vec![missing(
            "P8",
            "at twice the sustainable rate".into(),
            "refusals <= 10 ms, retryable; admitted p99 <= 15 ms",
        )];
    };
    let sent = rate * results.number("postgres.duration").unwrap_or(0.0);
    let failed = results.number(&format!("{key}.failed")).unwrap_or(0.0);
    let codes = results.text(&format!("{key}.codes")).unwrap_or("-");
    let refusal_p99 = results
        .number(&format!("{key}.failed_p99_us"))
        .unwrap_or(0.0);
    let admitted_p99 = results.number(&format!("{key}.p99_us")).unwrap_or(0.0);
    let unsent = results.number(&format!("{key}.unsent")).unwrap_or(0.0);
    let lag_p99 = results.number(&format!("{key}.lag_p99_us")).unwrap_or(0.0);
    let only_unavailable = codes
        .split(',')
        .all(|part| part == "-" || part.starts_with("UNAVAILABLE:"));
    let refusals = if failed == 0.0 {
        "none refused".to_string()
    } else {
        format!(
            "{failed} refused ({}), {codes}, p50 {}, p99 {}",
            percent(if sent > 0.0 { failed / sent } else { 0.0 }),
            ms(results
                .number(&format!("{key}.failed_p50_us"))
                .unwrap_or(0.0)),
            ms(refusal_p99),
        )
    };
    vec![
        Row {
            goal: "P8",
            measure: format!(
                "GetOrganization, open loop at {} (twice P1): refusals",
                per_second(rate)
            ),
            value: refusals,
            yardstick: String::new(),
            ratio: String::new(),
            target: "<= 10 ms, retryable (UNAVAILABLE)",
            met: Verdict::of(only_unavailable && refusal_p99 <= P8_REFUSAL_MS * 1000.0),
        },
        Row {
            goal: "P8",
            measure: "the same run: admitted calls".into(),
            value: format!(
                "{} answered, p99 {} (the generator's own lag p99 {}){}",
                per_second(results.number(&format!("{key}.rate")).unwrap_or(0.0)),
                ms(admitted_p99),
                ms(lag_p99),
                if unsent > 0.0 {
                    format!(", {unsent} not sent (generator's in-flight cap)")
                } else {
                    String::new()
                }
            ),
            yardstick: String::new(),
            ratio: String::new(),
            target: "p99 <= 15 ms (3x P2)",
            met: Verdict::of(admitted_p99 <= 3.0 * P2_P99_MS * 1000.0 && unsent == 0.0),
        },
    ]
}

/// P9: the report by country over all years beside one SQL GROUP BY of the same outcomes, at
/// each size `scripts/bench.sh` filled (`p9.sizes`).
fn reports(results: &Results) -> Vec<Row> {
    let target = "<= 2x";
    let sizes: Vec<&str> = results
        .text("p9.sizes")
        .map(|sizes| sizes.split(',').filter(|size| !size.is_empty()).collect())
        .unwrap_or_default();
    if sizes.is_empty() {
        return vec![missing(
            "P9",
            "StreamFiscalYearReport by country beside one SQL GROUP BY".into(),
            target,
        )];
    }
    sizes
        .into_iter()
        .map(|size| {
            let key = format!("p9.{size}");
            let measure = format!(
                "StreamFiscalYearReport by country, FY {}-{}, {} accepted outcomes ({} rows; median of {})",
                results.text(&format!("{key}.from_year")).unwrap_or("?"),
                results.text(&format!("{key}.to_year")).unwrap_or("?"),
                results.text(&format!("{key}.accepted")).unwrap_or(size),
                results.text(&format!("{key}.rows")).unwrap_or("?"),
                results
                    .text(&format!("{key}.report_runs_us"))
                    .map(|runs| runs.split(',').count())
                    .unwrap_or(0),
            );
            match (
                results.number(&format!("{key}.report_us")),
                results.number(&format!("{key}.sql_us")),
            ) {
                (Some(report), Some(sql)) if sql > 0.0 => Row {
                    goal: "P9",
                    measure,
                    value: ms(report),
                    yardstick: format!(
                        "one SQL GROUP BY of the same outcomes (psql \\timing, median): {}",
                        ms(sql)
                    ),
                    ratio: format!("{:.1}x", report / sql),
                    target,
                    met: Verdict::of(report / sql <= P9_TIMES_SQL),
                },
                _ => missing("P9", measure, target),
            }
        })
        .collect()
}
