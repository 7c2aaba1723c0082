//! Shares of a limited resource between callers: calls in flight (see `admission`) and report
//! stream slots (see `report_api`). One rule for both: a token holds at most its own share, a
//! grantee organisation (all its tokens together) at most its share, and grantees together at
//! most the places that are not kept for staff; staff take any free place. So one grantee can
//! use its share and no more, and staff are served whatever the grantees do. Nobody waits: a
//! caller over a limit is refused at once, and [`Refusal`] says which limit it met.
//!
//! Counts live under one mutex, taken twice a call (take, release) and never held across an
//! await: uncontended it costs well under a microsecond.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::domain::access::{Actor, Scope};

/// How many places there are and how they are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareLimits {
    /// All places, or `None` when another gate bounds the total (calls in flight: `Admission`).
    pub total: Option<usize>,
    /// Places grantees may hold together: the total less what is kept for staff.
    pub grantees: usize,
    /// Places one grantee organisation may hold.
    pub per_organization: usize,
    /// Places one token may hold, staff or grantee; `None`: no limit per token.
    pub per_token: Option<usize>,
}

/// Which limit refused a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's token holds its share: the caller's own excess.
    Token,
    /// The caller's organisation holds its share: its own excess.
    Organization,
    /// Grantees together hold every place not kept for staff.
    Grantees,
    /// Every place is taken.
    Total,
}

/// The places of one resource; clones share the counts.
#[derive(Clone)]
pub struct Shares {
    limits: ShareLimits,
    held: Arc<Mutex<Held>>,
}

#[derive(Default)]
struct Held {
    total: usize,
    grantees: usize,
    by_organization: HashMap<String, usize>,
    by_token: HashMap<String, usize>,
}

/// One place, given back when dropped.
pub struct Share {
    held: Arc<Mutex<Held>>,
    token: Option<String>,
    organization: Option<String>,
}

fn lock(held: &Mutex<Held>) -> MutexGuard<'_, Held> {
    // The counts stay consistent whatever panicked while they were held: every change is one step.
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds one to `key`'s count.
fn count_up(counts: &mut HashMap<String, usize>, key: &str) {
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Takes one from `key`'s count, forgetting keys that reach zero (the map holds only holders).
fn count_down(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}

impl Shares {
    pub fn new(limits: ShareLimits) -> Shares {
        Shares {
            limits,
            held: Arc::new(Mutex::new(Held::default())),
        }
    }

    /// The limits these shares keep.
    pub fn limits(&self) -> ShareLimits {
        self.limits
    }

    /// A place for `actor`, or the limit that refuses one.
    pub fn try_take(&self, actor: &Actor) -> Result<Share, Refusal> {
        let limits = self.limits;
        let organization = match actor.scope() {
            Scope::Organization(organization) => Some(organization),
            Scope::All => None,
        };
        let token = limits.per_token.map(|_| actor.token_id.clone());
        let mut held = lock(&self.held);
        let count_of = |counts: &HashMap<String, usize>, key: &str| -> usize {
            counts.get(key).copied().unwrap_or(0)
        };
        if let (Some(limit), Some(token)) = (limits.per_token, &token)
            && count_of(&held.by_token, token) >= limit
        {
            return Err(Refusal::Token);
        }
        if let Some(organization) = &organization {
            if count_of(&held.by_organization, organization) >= limits.per_organization {
                return Err(Refusal::Organization);
            }
            if held.grantees >= limits.grantees {
                return Err(Refusal::Grantees);
            }
        }
        if limits.total.is_some_and(|total| held.total >= total) {
            return Err(Refusal::Total);
        }
        held.total += 1;
        if let Some(token) = &token {
            count_up(&mut held.by_token, token);
        }
        if let Some(organization) = &organization {
            held.grantees += 1;
            count_up(&mut held.by_organization, organization);
        }
        drop(held);
        Ok(Share {
            held: self.held.clone(),
            token,
            organization,
        })
    }

    /// Places held now: all of them, and grantees'.
    pub fn held(&self) -> (usize, usize) {
        let held = lock(&self.held);
        (held.total, held.grantees)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        held.total = held.total.saturating_sub(1);
        if let Some(token) = &self.token {
            count_down(&mut held.by_token, token);
        }
        if let Some(organization) = &self.organization {
            held.grantees = held.grantees.saturating_sub(1);
            count_down(&mut held.by_organization, organization);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;

    fn grantee(token: &str, organization: &str) -> Actor {
        Actor {
            token_id: token.into(),
            role: Role::Grantee,
            organization_id: Some(organization.into()),
            owner: token.into(),
        }
    }

    fn staff(token: &str) -> Actor {
        Actor {
            token_id: token.into(),
            role: Role::ProgramOfficer,
            organization_id: None,
            owner: token.into(),
        }
    }

    fn shares() -> Shares {
        Shares::new(ShareLimits {
            total: Some(6),
            grantees: 4,
            per_organization: 2,
            per_token: Some(3),
        })
    }

    #[test]
    fn an_organisation_holds_its_share_across_its_tokens_and_no_more() {
        let shares = shares();

        let first = shares.try_take(&grantee("a1", "a"));
        let second = shares.try_take(&grantee("a2", "a"));
        let third = shares.try_take(&grantee("a3", "a"));
        let other = shares.try_take(&grantee("b1", "b"));

        assert!(first.is_ok() && second.is_ok() && other.is_ok());
        assert_eq!(third.err(), Some(Refusal::Organization));
    }

    #[test]
    fn grantees_together_leave_the_staff_reserve_free_and_staff_take_it() {
        let shares = shares();
        let grantees: Vec<_> = ["a", "a", "b", "b"]
            .iter()
            .enumerate()
            .map(|(index, organization)| {
                shares.try_take(&grantee(&format!("t{index}"), organization))
            })
            .collect();

        let fifth_grantee = shares.try_take(&grantee("c1", "c"));
        let staff_places: Vec<_> = (0..2)
            .map(|index| shares.try_take(&staff(&format!("s{index}"))))
            .collect();
        let beyond = shares.try_take(&staff("s9"));

        assert!(grantees.iter().all(Result::is_ok));
        assert_eq!(fifth_grantee.err(), Some(Refusal::Grantees));
        assert!(staff_places.iter().all(Result::is_ok));
        assert_eq!(beyond.err(), Some(Refusal::Total));
    }

    #[test]
    fn a_token_holds_at_most_its_own_share_and_a_dropped_place_is_free_again() {
        let shares = shares();
        let mut places: Vec<_> = (0..3)
            .map(|_| {
                shares
                    .try_take(&staff("s1"))
                    .expect("within the token's share")
            })
            .collect();

        let fourth = shares.try_take(&staff("s1"));
        places.pop();
        let again = shares.try_take(&staff("s1"));

        assert_eq!(fourth.err(), Some(Refusal::Token));
        assert!(again.is_ok());
        drop(again);
        drop(places);
        assert_eq!(shares.held(), (0, 0));
    }
}
