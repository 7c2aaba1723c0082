//! Plain Rust: the office's concepts and rules (names, money, fiscal year,
//! state machines, validation). No tonic and no SeaORM here: `api` turns
//! requests into these types, `store` persists them.

pub mod access;
pub mod audit;
pub mod fiscal_year;
pub mod money;
pub mod organization;
pub mod pillar;
pub mod reference;
pub mod tip_report;
pub mod validate;

pub use validate::Violations;
