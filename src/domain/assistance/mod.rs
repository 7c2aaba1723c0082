//! Emergency victim-assistance cases and the fund they draw on. A partner
//! refers a victim (REFERRED); a case worker reviews (UNDER_REVIEW) and
//! approves an amount per need (APPROVED) or denies; payments follow, each
//! against one need; the case is closed with its outcome, or withdrawn.
//!
//! The rules kept here: no services without the victim's consent; an
//! approval commits money only when the fiscal year's available balance
//! covers it; whoever referred a case or started its review cannot approve
//! it (four eyes); a payment is at most what remains approved for its need;
//! closing or withdrawing releases what was approved and not paid. The
//! victim's personal data is not here: it is sealed by `crate::privacy`
//! and only its field names reach a case (and its audit events).
//!
//! `case.rs`: the states and the case; `referral.rs`: a referral as it comes
//! in; `transition.rs`: the case machine; `fund.rs`: the fund and its
//! allocations; `disbursement.rs`: payments; `personal.rs`: personal data.

mod case;
mod disbursement;
mod fund;
mod personal;
mod referral;
#[cfg(test)]
pub(crate) mod testing;
mod transition;

pub use case::*;
pub use disbursement::*;
pub use fund::*;
pub use personal::*;
pub use referral::*;
pub use transition::*;
