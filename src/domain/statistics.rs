//! Counts of people and when they may be shown: the k rule, in one place.
//! Every figure about victims that reaches someone who cannot read the
//! records behind it (a fiscal-year report, the summary of the emergency
//! fund for a program officer) is published through [`Disclosure`]: a figure
//! is a sum of whole *parts* (the smallest groups any request can single
//! out), and it is shown only when none of its parts holds from 1 to k - 1
//! people. A small part is then never shown and never inside a figure shown,
//! so no difference of figures, of one answer or of several with other
//! years, filters or groupings, gives it back. Figures that would give one
//! another back (a count of cases beside the victims helped among them, the
//! amounts paid to them) are decided together: shown together or withheld
//! together.
//!
//! Records about people released one by one (the HTCDS export) follow the same k:
//! [`Combinations::anonymise`] makes them k-anonymous, every combination of released values
//! held by at least k records, generalising fields first and withholding the records still in
//! a small group.

use std::collections::BTreeMap;

/// A figure as published: shown, or withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published<T> {
    Shown(T),
    /// A small part is inside it, or it would let a reader compute a withheld figure back.
    Suppressed,
}

/// A published count of people.
pub type Count = Published<i64>;

impl<T> Published<T> {
    /// `figures`, shown when `shown`.
    pub fn shown_if(shown: bool, figures: T) -> Published<T> {
        if shown {
            Published::Shown(figures)
        } else {
            Published::Suppressed
        }
    }

    /// The figure, when shown.
    pub fn shown(self) -> Option<T> {
        match self {
            Published::Shown(value) => Some(value),
            Published::Suppressed => None,
        }
    }
}

/// A count of people and the parts it adds up (see the module's rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    parts: BTreeMap<String, i64>,
}

impl People {
    /// Adds `count` people to the part `part`.
    pub fn add(&mut self, part: String, count: i64) {
        let sum = self.parts.entry(part).or_default();
        *sum = sum.saturating_add(count);
    }

    /// Adds every part of `other`.
    pub fn merge(&mut self, other: &People) {
        for (part, count) in &other.parts {
            self.add(part.clone(), *count);
        }
    }

    /// How many people in all.
    pub fn total(&self) -> i64 {
        self.parts
            .values()
            .fold(0, |sum, count| sum.saturating_add(*count))
    }

    /// Whether a part holds from 1 to `k - 1` people.
    fn has_small_part(&self, k: i64) -> bool {
        self.parts.values().any(|count| is_small(*count, k))
    }

    /// The published count: the sum, or suppressed when a part is from 1 to `k - 1`.
    pub fn publish(&self, k: i64) -> Count {
        Disclosure::Published { threshold: k }.publish(self, || self.total())
    }
}

/// Whether a group of `count` people is small under the k rule: from 1 to `k - 1`.
fn is_small(count: i64, k: i64) -> bool {
    count > 0 && count < k
}

/// At most this share of the records (1 in 20) may be withheld while fewer fields are
/// generalised; a release that needs more keeps generalising instead.
const WITHHELD_RECORDS_ALLOWED: (i64, i64) = (1, 20);

/// Records of people, counted by the combination of their `N` field values (a value of "" is
/// "not given"). Memory grows with the distinct combinations, not with the records.
#[derive(Debug, Clone)]
pub struct Combinations<const N: usize> {
    counts: BTreeMap<[String; N], i64>,
}

impl<const N: usize> Default for Combinations<N> {
    fn default() -> Self {
        Self {
            counts: BTreeMap::new(),
        }
    }
}

/// How good a choice of generalised fields is (lower is better): over the allowance of withheld
/// records or not, then fields generalised and records withheld (in the order that matters),
/// then which fields.
type Rank<const N: usize> = (bool, i64, i64, [bool; N]);

/// A k-anonymous release: which fields were generalised (released empty), the groups of equal
/// records released (each at least k), and how many records were withheld.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymised<const N: usize> {
    pub generalised: [bool; N],
    pub groups: Vec<([String; N], i64)>,
    pub withheld: i64,
}

impl<const N: usize> Combinations<N> {
    /// Counts one record.
    pub fn add(&mut self, values: [String; N]) {
        let count = self.counts.entry(values).or_default();
        *count = count.saturating_add(1);
    }

    /// The records made k-anonymous, as CTDC publishes: every combination of the released values
    /// occurs at least `k` times. Generalisation first: of every choice of fields to release
    /// empty, the one that generalises the fewest fields while withholding at most 1 in 20
    /// records (then the one withholding fewest; ties go to the first fields kept); when no choice
    /// withholds so few, the one that withholds fewest. Then suppression: the records still in a
    /// combination of fewer than `k` are withheld.
    pub fn anonymise(&self, k: i64) -> Anonymised<N> {
        let total: i64 = self.counts.values().sum();
        let (allowed, out_of) = WITHHELD_RECORDS_ALLOWED;
        let mut best: Option<(Rank<N>, Anonymised<N>)> = None;
        // Every subset of the fields (at most a few dozen).
        for mask in 0u32..(1 << N) {
            let generalised: [bool; N] = std::array::from_fn(|field| mask & (1 << field) != 0);
            let mut groups: BTreeMap<[String; N], i64> = BTreeMap::new();
            for (values, count) in &self.counts {
                let key = std::array::from_fn(|field| {
                    if generalised[field] {
                        String::new()
                    } else {
                        values[field].clone()
                    }
                });
                *groups.entry(key).or_default() += count;
            }
            let withheld: i64 = groups.values().filter(|count| is_small(**count, k)).sum();
            let within = withheld.saturating_mul(out_of) <= total.saturating_mul(allowed);
            let fields = i64::from(mask.count_ones());
            // Among equals, the choice that keeps the first fields (false before true).
            let rank = if within {
                (false, fields, withheld, generalised)
            } else {
                (true, withheld, fields, generalised)
            };
            if best.as_ref().is_none_or(|(best_rank, _)| rank < *best_rank) {
                let groups = groups
                    .into_iter()
                    .filter(|(_, count)| !is_small(*count, k))
                    .collect();
                best = Some((
                    rank,
                    Anonymised {
                        generalised,
                        groups,
                        withheld,
                    },
                ));
            }
        }
        best.map(|(_, release)| release).unwrap_or(Anonymised {
            generalised: [false; N],
            groups: Vec::new(),
            withheld: 0,
        })
    }
}

/// How figures about people reach a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Exactly: the caller can read every record the figures count.
    Exact,
    /// Under the k rule (`reports.suppression_threshold`).
    Published { threshold: i64 },
}

impl Disclosure {
    /// Whether figures adding up `people` (and those that would give them back) may be shown.
    pub fn shows(self, people: &People) -> bool {
        match self {
            Disclosure::Exact => true,
            Disclosure::Published { threshold } => !people.has_small_part(threshold),
        }
    }

    /// `figures` (of `people`), shown when [`Disclosure::shows`] allows, else withheld.
    pub fn publish<T>(self, people: &People, figures: impl FnOnce() -> T) -> Published<T> {
        if self.shows(people) {
            Published::Shown(figures())
        } else {
            Published::Suppressed
        }
    }

    /// The threshold figures are published under; `None` when exact.
    pub fn threshold(self) -> Option<i64> {
        match self {
            Disclosure::Exact => None,
            Disclosure::Published { threshold } => Some(threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_published_only_without_a_part_from_one_to_k_minus_one() {
        let people = |parts: &[i64]| {
            let mut people = People::default();
            for (index, count) in parts.iter().enumerate() {
                people.add(index.to_string(), *count);
            }
            people
        };

        assert_eq!(people(&[20, 11, 0]).publish(11), Count::Shown(31));
        assert_eq!(people(&[20, 3, 15]).publish(11), Count::Suppressed);
        assert_eq!(people(&[10]).publish(11), Count::Suppressed);
        assert_eq!(people(&[]).publish(11), Count::Shown(0));
        assert_eq!(
            Disclosure::Exact.publish(&people(&[20, 3]), || 23),
            Published::Shown(23)
        );
    }

    fn records(rows: &[(&str, &str, i64)]) -> Combinations<2> {
        let mut combinations = Combinations::default();
        for (first, second, count) in rows {
            for _ in 0..*count {
                combinations.add([first.to_string(), second.to_string()]);
            }
        }
        combinations
    }

    #[test]
    fn records_already_k_anonymous_are_released_as_they_are() {
        let release = records(&[("a", "x", 11), ("b", "y", 12)]).anonymise(11);
        assert_eq!(release.generalised, [false, false]);
        assert_eq!(release.withheld, 0);
        assert_eq!(release.groups.len(), 2);
    }

    #[test]
    fn the_field_that_splits_small_groups_is_generalised_before_any_record_is_withheld() {
        // Each (first, second) holds 6 records; the first field alone holds 12 each.
        let release =
            records(&[("a", "x", 6), ("a", "y", 6), ("b", "x", 6), ("b", "y", 6)]).anonymise(11);
        assert_eq!(release.generalised, [false, true]);
        assert_eq!(release.withheld, 0);
        assert!(release.groups.iter().all(|(_, count)| *count >= 11));
    }

    #[test]
    fn a_few_records_in_small_groups_are_withheld_rather_than_a_field_generalised() {
        // 1 record in 41 is alone: withholding it keeps both fields.
        let release = records(&[("a", "x", 20), ("b", "y", 20), ("c", "z", 1)]).anonymise(11);
        assert_eq!(release.generalised, [false, false]);
        assert_eq!(release.withheld, 1);
        assert_eq!(
            release.groups.iter().map(|(_, count)| count).sum::<i64>(),
            40
        );
    }

    #[test]
    fn fewer_than_k_records_in_all_are_all_withheld() {
        let release = records(&[("a", "x", 5), ("b", "y", 5)]).anonymise(11);
        assert!(release.groups.is_empty());
        assert_eq!(release.withheld, 10);
    }
}
