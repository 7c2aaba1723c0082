//! Money: exact integer minor units (US cents), never floating point. The
//! arithmetic of amounts a request brings is checked: an overflow is a field
//! violation, not a panic. Reports sum stored amounts, each bounded, with `+=`,
//! which saturates rather than panic.

use serde::{Deserialize, Serialize};

/// An amount in cents. May be negative only as a signed movement (a de-obligation).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

/// The largest amount one record may carry: 1 trillion dollars, far beyond any award.
/// About 92,000 records at this maximum fit in an `i64` sum; every sum is checked anyway.
pub const MAX_AMOUNT: Cents = Cents(100_000_000_000_000);

impl Cents {
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// Thousands of dollars from the exact amount, rounded half up (toward +infinity on a
    /// half: -$1,500 is -1 thousand): the one rounding of money, which reports print.
    pub fn thousands_of_dollars(self) -> i64 {
        let doubled = 2 * i128::from(self.0) + CENTS_PER_THOUSAND;
        clamp_i64(doubled.div_euclid(2 * CENTS_PER_THOUSAND))
    }
}

/// Sums of stored amounts in reports (each amount at most [`MAX_AMOUNT`], so about 92,000 of
/// them fit): saturating, so an impossible overflow prints the largest amount, never panics.
impl std::ops::AddAssign for Cents {
    fn add_assign(&mut self, other: Cents) {
        self.0 = self.0.saturating_add(other.0);
    }
}

/// Cents in a thousand dollars.
const CENTS_PER_THOUSAND: i128 = 100_000;

/// Thousands of dollars for each part, adding up to `target` thousands:
/// every part gets its whole thousands (rounded down), and the thousands
/// left go one each to the parts with the largest remainders (ties: the
/// earlier part). `target` is normally the rounded total of the parts
/// ([`Cents::thousands_of_dollars`]), so that what is printed adds up.
pub fn apportion_thousands(parts: &[Cents], target: i64) -> Vec<i64> {
    let mut shares: Vec<i64> = Vec::with_capacity(parts.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let cents = i128::from(part.0);
        shares.push(clamp_i64(cents.div_euclid(CENTS_PER_THOUSAND)));
        remainders.push((cents.rem_euclid(CENTS_PER_THOUSAND), index));
    }
    if shares.is_empty() {
        return shares;
    }
    // Largest remainder first; the earlier part first among equals.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = i128::from(target) - shares.iter().map(|share| i128::from(*share)).sum::<i128>();
    let mut next = 0;
    while left > 0 {
        shares[remainders[next % remainders.len()].1] += 1;
        left -= 1;
        next += 1;
    }
    // Only a target below the parts' floors takes thousands back: from the smallest remainders.
    let mut next = remainders.len();
    while left < 0 {
        next = if next == 0 { remainders.len() } else { next };
        next -= 1;
        shares[remainders[next].1] -= 1;
        left += 1;
    }
    shares
}

fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Digits grouped by three with commas (`1,234,567`): the one way money's
/// whole units are printed, in errors, reports and charts alike.
pub fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// Dollars and cents as people read them everywhere the server prints money: `$5,790.00`.
impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let absolute = self.0.unsigned_abs();
        write!(
            f,
            "{sign}${}.{:02}",
            group_digits(absolute / 100),
            absolute % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_round_half_up_from_exact_cents() {
        assert_eq!(Cents(149_999).thousands_of_dollars(), 1);
        assert_eq!(Cents(150_000).thousands_of_dollars(), 2);
        assert_eq!(Cents(49_999).thousands_of_dollars(), 0);
        assert_eq!(Cents(-150_000).thousands_of_dollars(), -1);
        assert_eq!(Cents(-150_001).thousands_of_dollars(), -2);
        assert_eq!(Cents(9_730_000_000).thousands_of_dollars(), 97_300);
    }

    #[test]
    fn display_shows_dollars_and_cents() {
        assert_eq!(Cents(123_456).to_string(), "$1,234.56");
        assert_eq!(Cents(-5).to_string(), "-$0.05");
    }

    #[test]
    fn addition_reports_overflow_instead_of_wrapping() {
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
    }

    #[test]
    fn display_always_shows_two_digits_of_cents() {
        assert_eq!(Cents(0).to_string(), "$0.00");
        assert_eq!(Cents(7).to_string(), "$0.07");
        assert_eq!(Cents(100).to_string(), "$1.00");
        assert_eq!(Cents(75_000_000).to_string(), "$750,000.00");
        assert_eq!(Cents(-123_456).to_string(), "-$1,234.56");
    }

    #[test]
    fn display_of_the_most_negative_amount_does_not_overflow() {
        assert_eq!(Cents(i64::MIN).to_string(), "-$92,233,720,368,547,758.08");
        assert_eq!(Cents(i64::MAX).to_string(), "$92,233,720,368,547,758.07");
    }

    #[test]
    fn the_largest_amount_of_one_record_is_one_trillion_dollars() {
        assert_eq!(MAX_AMOUNT.to_string(), "$1,000,000,000,000.00");
    }

    #[test]
    fn addition_and_subtraction_are_exact_including_de_obligations() {
        assert_eq!(
            Cents(75_000_000).checked_add(Cents(50_000_000)),
            Some(Cents(125_000_000))
        );
        assert_eq!(
            Cents(125_000_000).checked_add(Cents(-25_000_000)),
            Some(Cents(100_000_000))
        );
        assert_eq!(Cents(5).checked_sub(Cents(7)), Some(Cents(-2)));
    }

    #[test]
    fn subtraction_reports_overflow_instead_of_wrapping() {
        assert_eq!(Cents(i64::MIN).checked_sub(Cents(1)), None);
        assert_eq!(Cents(i64::MAX).checked_sub(Cents(-1)), None);
        assert_eq!(Cents(i64::MIN).checked_add(Cents(-1)), None);
    }

    #[test]
    fn a_sum_of_92233_maximal_amounts_fits_and_one_more_overflows() {
        let sum = (0..92_233).try_fold(Cents(0), |sum, _| sum.checked_add(MAX_AMOUNT));
        assert_eq!(sum, Some(Cents(9_223_300_000_000_000_000)));
        assert_eq!(sum.and_then(|sum| sum.checked_add(MAX_AMOUNT)), None);
    }

    #[test]
    fn thousands_round_half_up_at_the_boundary() {
        assert_eq!(Cents(0).thousands_of_dollars(), 0);
        assert_eq!(Cents(49_999).thousands_of_dollars(), 0);
        assert_eq!(Cents(50_000).thousands_of_dollars(), 1);
        assert_eq!(Cents(-49_999).thousands_of_dollars(), 0);
        assert_eq!(Cents(-50_000).thousands_of_dollars(), 0);
        assert_eq!(Cents(-50_001).thousands_of_dollars(), -1);
        assert_eq!(Cents(-149_999).thousands_of_dollars(), -1);
    }

    #[test]
    fn thousands_of_the_extreme_amounts_do_not_overflow() {
        assert_eq!(Cents(i64::MAX).thousands_of_dollars(), 92_233_720_368_548);
        assert_eq!(Cents(i64::MIN).thousands_of_dollars(), -92_233_720_368_548);
        assert_eq!(MAX_AMOUNT.thousands_of_dollars(), 1_000_000_000);
    }

    #[test]
    fn amounts_serialise_as_plain_integers_of_cents_and_parse_back() {
        assert_eq!(
            serde_json::to_string(&Cents(125_000_000)).unwrap(),
            "125000000"
        );
        assert_eq!(
            serde_json::from_str::<Cents>("-2500").unwrap(),
            Cents(-2500)
        );
        assert!(serde_json::from_str::<Cents>("12.5").is_err());
        assert!(serde_json::from_str::<Cents>("\"125\"").is_err());
    }

    #[test]
    fn amounts_order_by_their_value() {
        assert!(Cents(-1) < Cents(0));
        assert!(Cents(99) < Cents(100));
        assert!(Cents(1) < MAX_AMOUNT);
    }

    #[test]
    fn three_thirds_of_a_thousand_dollars_are_printed_as_thousands_that_add_up() {
        // $333.34 + $333.33 + $333.33 = $1,000.00: each alone rounds to 0 thousands.
        let parts = [Cents(33_334), Cents(33_333), Cents(33_333)];

        let shares = apportion_thousands(&parts, Cents(100_000).thousands_of_dollars());

        assert_eq!(shares, vec![1, 0, 0]);
    }

    #[test]
    fn largest_remainders_get_the_thousands_left_over() {
        // $1,400 + $1,400 + $1,200 = $4,000: floors 1+1+1, one thousand left, to the first 0.4.
        assert_eq!(
            apportion_thousands(&[Cents(140_000), Cents(140_000), Cents(120_000)], 4),
            vec![2, 1, 1]
        );
        // $2,600 + $2,700 + $4,700 = $10,000: floors 2+2+4, two left, to 0.7 and 0.7.
        assert_eq!(
            apportion_thousands(&[Cents(260_000), Cents(270_000), Cents(470_000)], 10),
            vec![2, 3, 5]
        );
        assert_eq!(apportion_thousands(&[], 0), Vec::<i64>::new());
    }

    #[test]
    fn a_target_below_the_floors_takes_thousands_from_the_smallest_remainders() {
        assert_eq!(
            apportion_thousands(&[Cents(110_000), Cents(190_000)], 1),
            vec![0, 1]
        );
    }
}
