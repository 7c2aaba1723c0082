//! `tipgrants seed-demo`: a synthetic demonstration portfolio modelled on the
//! office's fact sheet of June 2014. Every organisation is named
//! "(synthetic)". FY 2009-2013 obligations add up, by funding account and
//! year, to [`APPENDIX`] ($97.3 million; the fact sheet's own table lost its
//! figures, so these are made up to its published total), over 345 projects
//! with awards mostly between $50,000 and $500,000 and a few in the millions;
//! a third of the projects have an accepted final report with outcomes of
//! every kind; the emergency fund helped 54 consenting victims in FY 2014
//! (referred by three partners, 18 in each). Each award runs its course as
//! an office's would: an indicator with a target, the grant activated and its
//! project started, its reports filed, the project completed. Then the money
//! after the award (`money.rs`, docs/money.md): supplements and no-cost
//! extensions signed by a grants officer, every period's SF-425, payments
//! approved by other staff and paid, the FY 2009-2012 grants closed out
//! (what they did not spend de-obligated) and the FY 2013 ones left open with
//! balances. NET obligations still add up to [`APPENDIX`]; the appropriations
//! recorded are the appendix plus what the closeouts de-obligate
//! ([`appropriations`]).
//!
//! The data are planned first ([`plan`], pure and deterministic: the same
//! every run), then written through the API services in process (`write.rs`,
//! `settle.rs`), so every write goes through the same checks, transactions
//! and audit events as a client's. Each call carries a fixed `request_id`: a second run replays
//! the first answers and writes nothing.

mod dice;
mod money;
mod plan;
mod settle;
mod steps;
mod write;

pub use money::{GrantMoney, PlannedPayment, PlannedSupplement, Settlement};
pub use plan::{
    APPENDIX, DemoPlan, FIRST_YEAR, LAST_YEAR, PlannedCase, PlannedGrant, PlannedOrganization,
    PlannedOutcome, appropriations, plan,
};
pub use write::{DemoSummary, seed};
