//! Fiscal-year reports: obligations, grants and projects active, and outcomes
//! from accepted reports, by fiscal year and group. The store answers with
//! plain facts read from one snapshot ([`Portfolio`]); everything counted
//! here is decided here. Money stays in exact cents; thousands of dollars are
//! computed from the exact sums and rounded so that what is printed adds up
//! (largest-remainder rounding). Counts of victims are published only when
//! no small part hides inside them (`statistics::People`, the k rule of
//! `domain::statistics`); the emergency fund's figures are counted by
//! `domain::case_statistics`.
//!
//! `request.rs`: what a report asks for and its checks; `facts.rs`: the
//! facts in and the figures out; `build.rs`: the counting.

mod build;
mod facts;
mod request;

pub use build::*;
pub use facts::*;
pub use request::*;
