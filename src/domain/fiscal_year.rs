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

    /// The fiscal year a date falls in.
    pub fn fiscal_year_of(&self, date: NaiveDate) -> i32 {
        if self.first_month > 1 && date.month() >= self.first_month {
            date.year() + 1
        } else {
            date.year()
        }
    }

    /// First and last day of fiscal year `year`.
    pub fn bounds(&self, year: i32) -> Option<(NaiveDate, NaiveDate)> {
        let start_year = if self.first_month > 1 { year - 1 } else { year };
        let start = NaiveDate::from_ymd_opt(start_year, self.first_month, 1)?;
        let next = NaiveDate::from_ymd_opt(start_year + 1, self.first_month, 1)?;
        Some((start, next.pred_opt()?))
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
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn thirtieth_of_september_closes_the_federal_year() {
        let us = FiscalCalendar::default();
        assert_eq!(us.fiscal_year_of(date(2014, 9, 30)), 2014);
        assert_eq!(us.fiscal_year_of(date(2014, 10, 1)), 2015);
    }

    #[test]
    fn a_law_enacted_in_december_2013_is_a_fiscal_2014_outcome() {
        assert_eq!(
            FiscalCalendar::default().fiscal_year_of(date(2013, 12, 15)),
            2014
        );
    }

    #[test]
    fn a_january_calendar_is_the_calendar_year() {
        let calendar = FiscalCalendar::new(1);
        assert_eq!(calendar.fiscal_year_of(date(2014, 1, 1)), 2014);
        assert_eq!(calendar.fiscal_year_of(date(2014, 12, 31)), 2014);
        assert_eq!(
            calendar.bounds(2014),
            Some((date(2014, 1, 1), date(2014, 12, 31)))
        );
    }

    #[test]
    fn bounds_of_the_federal_year() {
        let us = FiscalCalendar::default();
        assert_eq!(
            us.bounds(2014),
            Some((date(2013, 10, 1), date(2014, 9, 30)))
        );
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
}
