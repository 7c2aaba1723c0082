//! Slots of one kind of call: how many may run at once across the server, and per
//! principal (a grantee's organisation, or a staff token), so that one caller
//! uses at most its share. A slot is taken before the call holds anything and
//! given back when its [`Slot`] is dropped: when the call ends, fails, or is
//! dropped because its client went away. Taking never waits: a caller beyond
//! either bound is refused at once, and the refusal says which bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::domain::access::{Actor, Scope};
use crate::domain::names::OrganizationName;

/// The slots of one kind of call.
#[derive(Debug, Clone)]
pub struct Slots {
    taken: Arc<Mutex<Taken>>,
    max_total: usize,
    max_per_principal: usize,
}

/// What is taken now: in all, and by each principal that holds any.
#[derive(Debug, Default)]
struct Taken {
    total: usize,
    by_principal: HashMap<String, usize>,
}

/// Which bound refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's principal holds its share already.
    Principal,
    /// Every slot of the server is taken.
    Total,
}

/// One slot, held until dropped.
#[derive(Debug)]
pub struct Slot {
    taken: Arc<Mutex<Taken>>,
    principal: String,
}

impl Slots {
    /// At most `max_total` at once, and `max_per_principal` per principal.
    pub fn new(max_total: usize, max_per_principal: usize) -> Slots {
        Slots {
            taken: Arc::default(),
            max_total,
            max_per_principal,
        }
    }

    /// A slot for `actor`, or which bound refuses it.
    pub fn take(&self, actor: &Actor) -> Result<Slot, Refusal> {
        let principal = principal_of(actor);
        let mut taken = lock(&self.taken);
        let held = taken.by_principal.get(&principal).copied().unwrap_or(0);
        if held >= self.max_per_principal {
            return Err(Refusal::Principal);
        }
        if taken.total >= self.max_total {
            return Err(Refusal::Total);
        }
        taken.total += 1;
        taken.by_principal.insert(principal.clone(), held + 1);
        Ok(Slot {
            taken: self.taken.clone(),
            principal,
        })
    }

    /// How many are taken now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        lock(&self.taken).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = lock(&self.taken);
        taken.total = taken.total.saturating_sub(1);
        if let Some(held) = taken.by_principal.get_mut(&self.principal) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                taken.by_principal.remove(&self.principal);
            }
        }
    }
}

/// The counts stay right even if a holder panicked: they are plain numbers.
fn lock(taken: &Mutex<Taken>) -> MutexGuard<'_, Taken> {
    taken.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whose share a call counts against: a grantee's organisation (all its tokens together),
/// else the token itself.
fn principal_of(actor: &Actor) -> String {
    match actor.scope() {
        Scope::Organization(organization) => OrganizationName::new(&organization).to_string(),
        Scope::All => actor.resource_name(),
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
        }
    }

    #[test]
    fn the_tokens_of_one_organisation_share_its_slots_and_a_dropped_slot_is_free_again() {
        let slots = Slots::new(3, 2);
        let first = slots.take(&grantee("t1", "o1")).unwrap();
        let _second = slots.take(&grantee("t2", "o1")).unwrap();

        assert_eq!(
            slots.take(&grantee("t3", "o1")).unwrap_err(),
            Refusal::Principal
        );
        let _other = slots.take(&grantee("t4", "o2")).unwrap();
        assert_eq!(
            slots.take(&grantee("t5", "o3")).unwrap_err(),
            Refusal::Total
        );
        drop(first);
        assert_eq!(slots.in_use(), 2);
        assert!(slots.take(&grantee("t1", "o1")).is_ok());
    }

    #[test]
    fn staff_tokens_each_have_their_own_share() {
        let slots = Slots::new(4, 1);
        let officer = |token: &str| Actor {
            token_id: token.into(),
            role: Role::ProgramOfficer,
            organization_id: None,
        };
        let _first = slots.take(&officer("a")).unwrap();

        assert_eq!(slots.take(&officer("a")).unwrap_err(), Refusal::Principal);
        assert!(slots.take(&officer("b")).is_ok());
    }
}
