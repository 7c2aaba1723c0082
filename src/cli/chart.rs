//! `tipgrants report --format svg`: a chart of obligations by fiscal year
//! that people can read, and that never adds up to more than the year.
//!
//! The chart is planned first ([`plan`], pure, tested), then drawn. Rules:
//! - groups that partition every year (always by account, grantee or none)
//!   are stacked: the largest [`SHOWN`] groups and "all others", so each bar
//!   is exactly its year's subtotal;
//! - groups that overlap in any year (by country, region or pillar, a grant
//!   in several countries counts in each) are never stacked: each year's
//!   subtotal is a grey bar, and the largest groups stand side by side inside
//!   it, each no taller than the year;
//! - colours are the Okabe-Ito palette (safe for colour-blind readers), no
//!   colour twice, grey for "all others"; the legend stands beside the plot,
//!   never on it; every year's bar carries its amount, as "$19.1 million";
//! - a line under the title says what the figures are and as of when.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Failure;
use super::report_lines::{GroupBy, Line, overlapping_years};

/// Groups drawn on their own; the rest are "all others" (stacked) or left out (side by side).
pub const SHOWN: usize = 7;

/// Okabe-Ito: seven colours a colour-blind reader tells apart (its black left for text).
const PALETTE: [RGBColor; SHOWN] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
];
/// "All others", and the year's total behind overlapping groups.
const GREY: RGBColor = RGBColor(0xBB, 0xBB, 0xBB);

/// One series of the chart: a group, or "all others".
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Thousands of dollars over the whole range.
    pub total_thousands: i64,
}

/// One fiscal year's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct YearBar {
    pub fiscal_year: i32,
    /// The year's subtotal (each grant once), in thousands.
    pub total_thousands: i64,
    /// (series index, thousands) in drawing order.
    pub parts: Vec<(usize, i64)>,
}

/// What the chart shows, before it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPlan {
    /// Stacked (parts add up to the year) or side by side (parts overlap).
    pub stacked: bool,
    pub series: Vec<Series>,
    pub years: Vec<YearBar>,
    /// Groups left out of a side-by-side chart (they overlap, so they cannot be summed).
    pub left_out: usize,
}

/// A group's label: its name (a grantee's resource name is never shown), with
/// its code when the code says something (`ESF: Economic Support Fund`).
fn label(by: GroupBy, group: &str, name: &str) -> String {
    match (group, name) {
        ("", _) => "all".to_string(),
        (group, "") => group.to_string(),
        (_, name) if matches!(by, GroupBy::Grantee | GroupBy::Country) => name.to_string(),
        (group, name) => format!("{group}: {name}"),
    }
}

/// Plans the chart of `lines` grouped `by`: stacked only when no year's rows
/// add up to more than the year (read from the figures, not assumed from the
/// grouping), so no bar can ever reach above its year.
pub fn plan(lines: &[Line], by: GroupBy) -> ChartPlan {
    let stacked = overlapping_years(lines).is_empty();
    let subtotals: Vec<(i32, i64)> = lines
        .iter()
        .filter(|(part, _)| *part == "subtotal")
        .map(|(_, figures)| (figures.fiscal_year, figures.obligated_thousands))
        .collect();
    // Groups by their total over the range, largest first (ties by label, for a stable order).
    let mut groups: Vec<(String, String, i64)> = Vec::new();
    for (part, figures) in lines {
        if *part != "row" {
            continue;
        }
        let amount = figures.obligated_thousands.max(0);
        match groups
            .iter_mut()
            .find(|(group, _, _)| *group == figures.group)
        {
            Some(found) => found.2 += amount,
            None => groups.push((
                figures.group.clone(),
                label(by, &figures.group, &figures.group_display_name),
                amount,
            )),
        }
    }
    // Without rows (`--by none`), each year's subtotal is its one bar.
    if groups.is_empty() && subtotals.iter().any(|(_, total)| *total != 0) {
        let series = vec![Series {
            label: "all".into(),
            total_thousands: subtotals.iter().map(|(_, total)| (*total).max(0)).sum(),
        }];
        let years = subtotals
            .iter()
            .map(|&(fiscal_year, total_thousands)| YearBar {
                fiscal_year,
                total_thousands,
                parts: vec![(0, total_thousands.max(0))],
            })
            .collect();
        return ChartPlan {
            stacked: true,
            series,
            years,
            left_out: 0,
        };
    }
    groups.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    let shown = groups.len().min(SHOWN);
    // Stacked, the rest becomes "all others" (one slot of the seven when there are more).
    let named = if stacked && groups.len() > SHOWN {
        SHOWN - 1
    } else {
        shown
    };
    let mut series: Vec<Series> = groups[..named]
        .iter()
        .map(|(_, label, total)| Series {
            label: label.clone(),
            total_thousands: *total,
        })
        .collect();
    let others = stacked && groups.len() > named;
    if others {
        series.push(Series {
            label: format!("all others ({} groups)", groups.len() - named),
            total_thousands: groups[named..].iter().map(|group| group.2).sum(),
        });
    }
    let years = subtotals
        .iter()
        .map(|&(fiscal_year, total_thousands)| {
            let mut parts: Vec<(usize, i64)> = vec![(0, 0); series.len()];
            for (index, part) in parts.iter_mut().enumerate() {
                part.0 = index;
            }
            for (part, figures) in lines {
                if *part != "row" || figures.fiscal_year != fiscal_year {
                    continue;
                }
                let position = groups.iter().position(|group| group.0 == figures.group);
                let index = match position {
                    Some(index) if index < named => Some(index),
                    Some(_) if others => Some(named),
                    _ => None,
                };
                if let Some(index) = index {
                    parts[index].1 += figures.obligated_thousands.max(0);
                }
            }
            YearBar {
                fiscal_year,
                total_thousands,
                parts,
            }
        })
        .collect();
    ChartPlan {
        stacked,
        series,
        years,
        left_out: if stacked { 0 } else { groups.len() - named },
    }
}

/// An amount of thousands of dollars as people say it: `$97.3 million`, `$1.2 billion`, `$450 thousand`.
pub fn spoken_dollars(thousands: i64) -> String {
    let sign = if thousands < 0 { "-" } else { "" };
    let value = thousands.unsigned_abs() as f64;
    if thousands == 0 {
        "$0".to_string()
    } else if value >= 1_000_000.0 {
        format!("{sign}${:.1} billion", value / 1_000_000.0)
    } else if value >= 1_000.0 {
        format!("{sign}${:.1} million", value / 1_000.0)
    } else {
        format!("{sign}${value} thousand")
    }
}

/// A step of the vertical axis (in thousands) giving about five lines up to `top`.
fn axis_step(top: i64) -> i64 {
    let rough = (top.max(1) as f64 / 5.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    step as i64
}

/// The report as an SVG chart (see the module documentation).
/// The chart of `lines` grouped `by` over fiscal years `(from, to)`, with `subtitle` under its title.
pub fn chart(
    lines: &[Line],
    by: GroupBy,
    (from, to): (i32, i32),
    subtitle: &str,
) -> Result<String, Failure> {
    let failed = |error: &dyn std::fmt::Display| {
        Failure::CouldNotTry(format!("cannot draw the chart: {error}"))
    };
    let plan = plan(lines, by);
    let total = lines
        .iter()
        .find(|(part, _)| *part == "total")
        .map(|(_, figures)| figures.obligated_thousands)
        .unwrap_or_default();
    let grouping = match by {
        GroupBy::None => String::new(),
        by => format!(" by {}", format!("{by:?}").to_lowercase()),
    };
    let years = if from == to {
        format!("FY {}", from)
    } else {
        format!("FY {}-{}", from, to)
    };
    let title = format!(
        "Obligations{grouping}, {years}: {} in all",
        spoken_dollars(total)
    );
    let how = if by == GroupBy::None {
        "Each bar is its fiscal year.".to_string()
    } else if plan.stacked
        && plan
            .series
            .iter()
            .any(|series| series.label.starts_with("all others"))
    {
        "Each bar is its fiscal year, split by group: the largest groups, then all others."
            .to_string()
    } else if plan.stacked {
        "Each bar is its fiscal year, split by group.".to_string()
    } else {
        format!(
            "Groups overlap (a grant in several counts in each), so they stand side by side in the grey total of their year, never stacked{}.",
            match plan.left_out {
                0 => String::new(),
                n => format!("; {n} smaller groups not drawn"),
            }
        )
    };

    let top = plan
        .years
        .iter()
        .map(|year| {
            year.total_thousands
                .max(year.parts.iter().map(|part| part.1).sum::<i64>())
        })
        .max()
        .unwrap_or(0);
    let step = axis_step(top);
    let axis_top = ((top / step) + 1) * step;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let text = |size: u32| ("sans-serif", size).into_font().color(&BLACK);
        root.draw(&Text::new(title, (20, 14), text(22)))
            .map_err(|e| failed(&e))?;
        root.draw(&Text::new(subtitle.to_string(), (20, 44), text(13)))
            .map_err(|e| failed(&e))?;
        root.draw(&Text::new(how, (20, 62), text(13)))
            .map_err(|e| failed(&e))?;
        let body = root.margin(84, 10, 10, 10);
        let (plot_area, legend_area) = body.split_horizontally(760);

        let mut plot = ChartBuilder::on(&plot_area)
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(100)
            .build_cartesian_2d(
                (f64::from(from) - 0.5)..(f64::from(to) + 0.5),
                0f64..axis_top as f64,
            )
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .disable_x_mesh()
            .x_labels((to - from + 1).max(1) as usize)
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 {
                    format!("FY {}", x.round() as i64)
                } else {
                    String::new()
                }
            })
            .y_labels((axis_top / step + 1) as usize)
            .y_label_formatter(&|y| spoken_dollars(y.round() as i64))
            .draw()
            .map_err(|e| failed(&e))?;

        let colour = |index: usize| {
            if plan.stacked
                && index + 1 == plan.series.len()
                && plan.series[index].label.starts_with("all others")
            {
                GREY
            } else {
                PALETTE[index % PALETTE.len()]
            }
        };
        for year in &plan.years {
            let x = f64::from(year.fiscal_year);
            let mut rectangles = Vec::new();
            let mut values = Vec::new();
            if plan.stacked {
                let mut bottom = 0.0;
                for &(index, value) in &year.parts {
                    let height = value as f64;
                    if height > 0.0 {
                        rectangles.push(Rectangle::new(
                            [(x - 0.35, bottom), (x + 0.35, bottom + height)],
                            colour(index).filled(),
                        ));
                    }
                    // A segment tall enough carries its amount.
                    if height > axis_top as f64 * 0.06
                        && plan.years.len() <= 8
                        && plan.series.len() > 1
                    {
                        values.push(Text::new(
                            spoken_dollars(value),
                            (x, bottom + height / 2.0),
                            text(12).pos(Pos::new(HPos::Center, VPos::Center)),
                        ));
                    }
                    bottom += height;
                }
            } else {
                rectangles.push(Rectangle::new(
                    [(x - 0.4, 0.0), (x + 0.4, year.total_thousands as f64)],
                    GREY.mix(0.45).filled(),
                ));
                let count = year.parts.len().max(1) as f64;
                let width = 0.7 / count;
                for &(index, value) in &year.parts {
                    let left = x - 0.35 + width * index as f64;
                    if value > 0 {
                        rectangles.push(Rectangle::new(
                            [(left + 0.01, 0.0), (left + width - 0.01, value as f64)],
                            colour(index).filled(),
                        ));
                    }
                }
            }
            plot.draw_series(rectangles).map_err(|e| failed(&e))?;
            plot.draw_series(values).map_err(|e| failed(&e))?;
            // The year's amount above its bar.
            let label = if year.total_thousands == 0 {
                "nothing obligated".to_string()
            } else {
                spoken_dollars(year.total_thousands)
            };
            plot.draw_series(std::iter::once(Text::new(
                label,
                (x, year.total_thousands as f64 + axis_top as f64 * 0.01),
                text(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))
            .map_err(|e| failed(&e))?;
        }

        if total == 0 && plan.years.iter().all(|year| year.total_thousands == 0) {
            plot.draw_series(std::iter::once(Text::new(
                format!("Nothing was obligated in {years}."),
                (
                    (f64::from(from) + f64::from(to)) / 2.0,
                    axis_top as f64 / 2.0,
                ),
                text(20).pos(Pos::new(HPos::Center, VPos::Center)),
            )))
            .map_err(|e| failed(&e))?;
        }

        // The legend beside the plot: one line per series, its colour and its total.
        let series = if by == GroupBy::None {
            &[][..]
        } else {
            &plan.series[..]
        };
        let mut y = 20;
        if !plan.stacked {
            legend_area
                .draw(&Rectangle::new(
                    [(10, y), (24, y + 14)],
                    GREY.mix(0.45).filled(),
                ))
                .map_err(|e| failed(&e))?;
            legend_area
                .draw(&Text::new(
                    "year total (each grant once)",
                    (30, y),
                    text(13),
                ))
                .map_err(|e| failed(&e))?;
            y += 24;
        }
        for (index, series) in series.iter().enumerate() {
            legend_area
                .draw(&Rectangle::new(
                    [(10, y), (24, y + 14)],
                    colour(index).filled(),
                ))
                .map_err(|e| failed(&e))?;
            let mut name = series.label.clone();
            if name.chars().count() > 42 {
                name = name.chars().take(39).collect::<String>() + "...";
            }
            legend_area
                .draw(&Text::new(name, (30, y), text(13)))
                .map_err(|e| failed(&e))?;
            legend_area
                .draw(&Text::new(
                    spoken_dollars(series.total_thousands),
                    (30, y + 15),
                    ("sans-serif", 12)
                        .into_font()
                        .color(&RGBColor(0x44, 0x44, 0x44)),
                ))
                .map_err(|e| failed(&e))?;
            y += 38;
        }
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::v1 as pb;

    fn line(part: &'static str, year: i32, group: &str, thousands: i64) -> Line {
        (
            part,
            pb::ReportFigures {
                fiscal_year: year,
                group: group.to_string(),
                group_display_name: format!("name of {group}"),
                obligated_thousands: thousands,
                obligated_cents: thousands * 100_000,
                ..Default::default()
            },
        )
    }

    /// Nine countries in FY 2012 whose rows overlap: 27,800 against a year of 19,100.
    fn overlapping() -> Vec<Line> {
        let mut lines: Vec<Line> = (0..9)
            .map(|index| line("row", 2012, &format!("C{index}"), 1_000 + 400 * index))
            .collect();
        lines.push(line("subtotal", 2012, "", 19_100));
        lines.push(line("row", 2013, "C0", 500));
        lines.push(line("subtotal", 2013, "", 500));
        lines.push(line("total", 0, "", 19_600));
        lines
    }

    /// Nine grantees that partition FY 2012's 19,100.
    fn partitioned() -> Vec<Line> {
        let mut lines: Vec<Line> = (0..9)
            .map(|index| line("row", 2012, &format!("G{index}"), 1_000 + 100 * index))
            .collect();
        lines.push(line("row", 2012, "G9", 19_100 - (9_000 + 100 * 36)));
        lines.push(line("subtotal", 2012, "", 19_100));
        lines.push(line("total", 0, "", 19_100));
        lines
    }

    #[test]
    fn no_bar_of_a_chart_reaches_above_its_year() {
        for (lines, by) in [
            (overlapping(), GroupBy::Country),
            (overlapping(), GroupBy::Account),
            (partitioned(), GroupBy::Grantee),
        ] {
            let plan = plan(&lines, by);
            for year in &plan.years {
                let stacked: i64 = year.parts.iter().map(|part| part.1).sum();
                let tallest = year.parts.iter().map(|part| part.1).max().unwrap_or(0);
                if plan.stacked {
                    assert!(stacked <= year.total_thousands, "{by:?} {year:?}");
                } else {
                    assert!(tallest <= year.total_thousands, "{by:?} {year:?}");
                }
            }
        }
    }

    #[test]
    fn overlapping_groups_stand_side_by_side_and_partitions_stack_with_all_others() {
        let side_by_side = plan(&overlapping(), GroupBy::Country);
        let stacked = plan(&partitioned(), GroupBy::Grantee);

        assert!(!side_by_side.stacked);
        assert_eq!(side_by_side.series.len(), SHOWN);
        assert_eq!(side_by_side.left_out, 2);
        assert!(stacked.stacked);
        assert_eq!(stacked.series.len(), SHOWN);
        assert_eq!(stacked.series[SHOWN - 1].label, "all others (4 groups)");
        let year = &stacked.years[0];
        assert_eq!(year.parts.iter().map(|part| part.1).sum::<i64>(), 19_100);
        // The largest group first; labels without resource names.
        assert_eq!(side_by_side.series[0].label, "name of C8");
    }

    #[test]
    fn a_report_without_rows_draws_each_year_as_one_bar() {
        let lines = vec![
            line("subtotal", 2013, "", 18_800),
            line("subtotal", 2014, "", 0),
            line("total", 0, "", 18_800),
        ];
        let plan = plan(&lines, GroupBy::None);
        assert!(plan.stacked);
        assert_eq!(plan.years[0].parts, vec![(0, 18_800)]);
        assert_eq!(plan.years[1].parts, vec![(0, 0)]);
    }

    #[test]
    fn amounts_read_as_people_say_them() {
        assert_eq!(spoken_dollars(97_300), "$97.3 million");
        assert_eq!(spoken_dollars(450), "$450 thousand");
        assert_eq!(spoken_dollars(1_250_000), "$1.2 billion");
        assert_eq!(axis_step(19_100), 5_000);
    }
}
