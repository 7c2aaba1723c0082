//! Money: exact integer minor units (US cents), never floating point. All
//! arithmetic is checked; an overflow is a field violation, not a panic.

use serde::{Deserialize, Serialize};

/// An amount in cents. May be negative only as a signed movement (a de-obligation).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

/// The largest amount one record may carry: 1 trillion dollars, far beyond any award,
/// and small enough that sums of millions of records cannot overflow `i64`.
pub const MAX_AMOUNT: Cents = Cents(100_000_000_000_000);

impl Cents {
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// Thousands of dollars, rounded half away from zero, from the exact amount.
    pub fn thousands_of_dollars(self) -> i64 {
        let cents_per_thousand: i64 = 100_000;
        let half = cents_per_thousand / 2;
        if self.0 >= 0 {
            (self.0 + half) / cents_per_thousand
        } else {
            (self.0 - half) / cents_per_thousand
        }
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let absolute = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:02}", absolute / 100, absolute % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_round_half_away_from_zero() {
        assert_eq!(Cents(149_999).thousands_of_dollars(), 1);
        assert_eq!(Cents(150_000).thousands_of_dollars(), 2);
        assert_eq!(Cents(-150_000).thousands_of_dollars(), -2);
        assert_eq!(Cents(9_730_000_000).thousands_of_dollars(), 97_300);
    }

    #[test]
    fn display_shows_dollars_and_cents() {
        assert_eq!(Cents(123_456).to_string(), "$1234.56");
        assert_eq!(Cents(-5).to_string(), "-$0.05");
    }

    #[test]
    fn addition_reports_overflow_instead_of_wrapping() {
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
    }
}
