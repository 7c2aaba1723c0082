//! The fiscal year, computed here and nowhere else. Fiscal year N runs from
//! the first day of `first_month` in year N-1 to the day before that date in
//! year N (US federal: 1 October N-1 to 30 September N). With `first_month`
//! 1, fiscal year N is calendar year N.

use chrono::{Datelike, NaiveDate};

/// Oldest and newest fiscal years the office records.
pub const FIRST_FISCAL_YEAR: i32 = 1990;
pub const LAST_FISCAL_YEAR: i32 = 2100;

/// The fiscal-year rule of one office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiscalCalendar {
    first_month: u32,
}

impl Default for FiscalCalendar {
    fn default() -> Self {
        Self { first_month: 10 }
    }
}

impl FiscalCalendar {
    /// A calendar whose year starts in `first_month` (1-12; validated by settings).
    pub fn new(first_month: u32) -> Self {
        Self {
            first_month: first_month.clamp(1, 12),
        }
    }

    /// The month the fiscal year starts in (1-12).
    pub fn first_month(&self) -> u32 {
        self.first_month
    }

    /// The fiscal year a date falls in.
    pub fn fiscal_year_of(&self, date: NaiveDate) -> i32 {
        if self.first_month > 1 && date.month() >= self.first_month {
            date.year() + 1
        } else {
            date.year()
        }
    }

    /// First and last day of fiscal year `year`; `None` beyond the dates chrono can represent.
    pub fn bounds(&self, year: i32) -> Option<(NaiveDate, NaiveDate)> {
        let start_year = if self.first_month > 1 {
            year.checked_sub(1)?
        } else {
            year
        };
        let start = NaiveDate::from_ymd_opt(start_year, self.first_month, 1)?;
        let next = NaiveDate::from_ymd_opt(start_year.checked_add(1)?, self.first_month, 1)?;
        Some((start, next.pred_opt()?))
    }
}

/// A part of a fiscal year that grantees report on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FiscalPart {
    /// The whole year.
    Year,
    /// Half 1 or 2.
    Half(u8),
    /// Quarter 1 to 4.
    Quarter(u8),
}

impl FiscalPart {
    /// `Q3`, `H1`, or empty for the whole year (the form indicator targets use).
    pub fn code(self) -> String {
        match self {
            FiscalPart::Year => String::new(),
            FiscalPart::Half(half) => format!("H{half}"),
            FiscalPart::Quarter(quarter) => format!("Q{quarter}"),
        }
    }

    /// The part of a code: empty, `H1`-`H2`, `Q1`-`Q4`.
    pub fn from_code(code: &str) -> Option<FiscalPart> {
        let number = |prefix: char, max: u8| {
            code.strip_prefix(prefix)
                .and_then(|digit| digit.parse::<u8>().ok())
                .filter(|value| (1..=max).contains(value))
        };
        match code {
            "" => Some(FiscalPart::Year),
            _ => number('H', 2)
                .map(FiscalPart::Half)
                .or_else(|| number('Q', 4).map(FiscalPart::Quarter)),
        }
    }

    /// The months it starts after the year's first month, and how many months it lasts.
    fn months(self) -> (u32, u32) {
        match self {
            FiscalPart::Year => (0, 12),
            FiscalPart::Half(half) => (6 * (u32::from(half) - 1), 6),
            FiscalPart::Quarter(quarter) => (3 * (u32::from(quarter) - 1), 3),
        }
    }
}

impl FiscalCalendar {
    /// First and last day of one part of fiscal year `year`.
    pub fn part_bounds(&self, year: i32, part: FiscalPart) -> Option<(NaiveDate, NaiveDate)> {
        let (year_start, _) = self.bounds(year)?;
        let (offset, length) = part.months();
        let start = year_start.checked_add_months(chrono::Months::new(offset))?;
        let next = start.checked_add_months(chrono::Months::new(length))?;
        Some((start, next.pred_opt()?))
    }

    /// Money of `fiscal_year` cannot be obligated (or allocated) on `date` when that day is
    /// in an earlier fiscal year: the rule of every draw on an appropriation, as a description.
    pub fn check_funds_on(&self, fiscal_year: i32, date: NaiveDate) -> Result<(), String> {
        let date_year = self.fiscal_year_of(date);
        if fiscal_year > date_year {
            return Err(format!(
                "funds of fiscal year {fiscal_year} cannot be obligated on {date}, which is in fiscal year {date_year}"
            ));
        }
        Ok(())
    }
}

/// Checks that a fiscal year is one the office can have (1990-2100).
pub fn check_fiscal_year(year: i32) -> Result<i32, String> {
    if (FIRST_FISCAL_YEAR..=LAST_FISCAL_YEAR).contains(&year) {
        Ok(year)
    } else {
        Err(format!(
            "must be a fiscal year from {FIRST_FISCAL_YEAR} to {LAST_FISCAL_YEAR}"
        ))
    }
}

#[cfg(test)]
mod part_tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn quarters_and_halves_follow_the_fiscal_year() {
        let calendar = FiscalCalendar::default();
        assert_eq!(
            calendar.part_bounds(2014, FiscalPart::Quarter(1)),
            Some((date("2013-10-01"), date("2013-12-31")))
        );
        assert_eq!(
            calendar.part_bounds(2014, FiscalPart::Quarter(3)),
            Some((date("2014-04-01"), date("2014-06-30")))
        );
        assert_eq!(
            calendar.part_bounds(2014, FiscalPart::Half(2)),
            Some((date("2014-04-01"), date("2014-09-30")))
        );
        assert_eq!(
            calendar.part_bounds(2014, FiscalPart::Year),
            calendar.bounds(2014)
        );
        assert_eq!(FiscalPart::from_code("Q4"), Some(FiscalPart::Quarter(4)));
        assert_eq!(FiscalPart::from_code("Q5"), None);
        assert_eq!(FiscalPart::from_code(""), Some(FiscalPart::Year));
        assert_eq!(FiscalPart::Half(1).code(), "H1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A calendar date as (year, month, day).
    type Ymd = (i32, u32, u32);

    /// (first month, date, its fiscal year): 10 is the US federal year, 1 the calendar year.
    const YEARS_OF_DATES: &[(u32, Ymd, i32)] = &[
        // The thirtieth of September closes the federal year.
        (10, (2014, 9, 30), 2014),
        (10, (2014, 10, 1), 2015),
        // A law enacted in December 2013 is a fiscal 2014 outcome.
        (10, (2013, 12, 15), 2014),
        // A January calendar is the calendar year, September and October in the same year.
        (1, (2014, 1, 1), 2014),
        (1, (2014, 9, 30), 2014),
        (1, (2014, 10, 1), 2014),
        (1, (2014, 12, 31), 2014),
        (1, (2015, 1, 1), 2015),
        // A July year turns on the first of July.
        (7, (2014, 6, 30), 2014),
        (7, (2014, 7, 1), 2015),
        (7, (2014, 9, 30), 2015),
        (7, (2014, 10, 1), 2015),
        // A December year turns on the first of December.
        (12, (2014, 11, 30), 2014),
        (12, (2014, 12, 1), 2015),
    ];

    /// (first month, fiscal year, its first and last day).
    const BOUNDS_OF_YEARS: &[(u32, i32, Ymd, Ymd)] = &[
        (10, 2014, (2013, 10, 1), (2014, 9, 30)),
        (1, 2014, (2014, 1, 1), (2014, 12, 31)),
        (7, 2015, (2014, 7, 1), (2015, 6, 30)),
        (12, 2015, (2014, 12, 1), (2015, 11, 30)),
        // A March year ends on the twenty-ninth of February in a leap year.
        (3, 2016, (2015, 3, 1), (2016, 2, 29)),
        (3, 2015, (2014, 3, 1), (2015, 2, 28)),
    ];

    #[test]
    fn each_date_falls_in_the_fiscal_year_its_first_month_makes_it() {
        for &(first_month, (y, m, d), year) in YEARS_OF_DATES {
            assert_eq!(
                FiscalCalendar::new(first_month).fiscal_year_of(date(y, m, d)),
                year,
                "first month {first_month}, {}",
                date(y, m, d)
            );
        }
    }

    #[test]
    fn each_fiscal_year_runs_from_its_first_to_its_last_day() {
        for &(first_month, year, (y0, m0, d0), (y1, m1, d1)) in BOUNDS_OF_YEARS {
            assert_eq!(
                FiscalCalendar::new(first_month).bounds(year),
                Some((date(y0, m0, d0), date(y1, m1, d1))),
                "first month {first_month}, fiscal year {year}"
            );
        }
    }

    #[test]
    fn an_april_year_matches_its_bounds() {
        let calendar = FiscalCalendar::new(4);
        let (start, end) = calendar.bounds(2020).unwrap();
        assert_eq!(calendar.fiscal_year_of(start), 2020);
        assert_eq!(calendar.fiscal_year_of(end), 2020);
        assert_eq!(calendar.fiscal_year_of(end.succ_opt().unwrap()), 2021);
    }

    #[test]
    fn fiscal_years_outside_1990_2100_are_refused() {
        assert!(check_fiscal_year(1989).is_err());
        assert!(check_fiscal_year(2101).is_err());
        assert_eq!(check_fiscal_year(2014), Ok(2014));
    }

    #[test]
    fn the_default_calendar_is_the_october_calendar() {
        assert_eq!(FiscalCalendar::default(), FiscalCalendar::new(10));
    }

    #[test]
    fn every_date_lies_within_the_bounds_of_its_fiscal_year_for_every_first_month() {
        for first_month in 1..=12 {
            let calendar = FiscalCalendar::new(first_month);
            let mut day = date(2011, 12, 25);
            while day <= date(2017, 1, 7) {
                let year = calendar.fiscal_year_of(day);
                let (start, end) = calendar.bounds(year).unwrap();
                assert!(
                    start <= day && day <= end,
                    "first month {first_month}: {day} is in fiscal year {year}, bounds {start}..={end}"
                );
                day = day.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn consecutive_fiscal_years_meet_without_a_gap_or_an_overlap() {
        for first_month in 1..=12 {
            let calendar = FiscalCalendar::new(first_month);
            for year in FIRST_FISCAL_YEAR..LAST_FISCAL_YEAR {
                let (_, end) = calendar.bounds(year).unwrap();
                let (next_start, _) = calendar.bounds(year + 1).unwrap();
                assert_eq!(
                    end.succ_opt(),
                    Some(next_start),
                    "first month {first_month}, fiscal year {year}"
                );
            }
        }
    }

    #[test]
    fn a_first_month_out_of_range_is_clamped_to_january_or_december() {
        assert_eq!(FiscalCalendar::new(0), FiscalCalendar::new(1));
        assert_eq!(FiscalCalendar::new(13), FiscalCalendar::new(12));
    }

    #[test]
    fn bounds_beyond_representable_dates_are_none_instead_of_a_panic() {
        for first_month in [1, 10] {
            let calendar = FiscalCalendar::new(first_month);
            assert_eq!(calendar.bounds(i32::MIN), None);
            assert_eq!(calendar.bounds(i32::MAX), None);
        }
    }

    #[test]
    fn the_first_and_last_recorded_fiscal_years_are_accepted() {
        assert_eq!(check_fiscal_year(FIRST_FISCAL_YEAR), Ok(1990));
        assert_eq!(check_fiscal_year(LAST_FISCAL_YEAR), Ok(2100));
        assert_eq!(
            check_fiscal_year(0),
            Err("must be a fiscal year from 1990 to 2100".to_string())
        );
    }
}
