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
        self.parts.values().any(|count| *count > 0 && *count < k)
    }

    /// The published count: the sum, or suppressed when a part is from 1 to `k - 1`.
    pub fn publish(&self, k: i64) -> Count {
        Disclosure::Published { threshold: k }.publish(self, || self.total())
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
}
