//! Database migrations of tipgrants, one per file, for PostgreSQL and SQLite
//! alike. An applied migration is never edited: a change is a new file.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_foundation;
mod m20261128_000002_access;
mod m20261128_000003_grants;
mod m20261128_000004_append_only;
mod m20261129_000005_outcomes;
mod m20261129_000006_audit_sequence;
mod m20261201_000006_assistance;
mod m20261206_000007_owners_and_private_digests;
mod m20261206_000008_privacy_key_fingerprints;
mod m20261207_000009_appropriations;
mod m20261207_000010_payment_requests;
mod m20261207_000011_financial_reports;
mod m20261207_000012_amendments;
mod m20261207_000013_one_ledger;
mod m20261207_000014_audit_queue;
mod seed;

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_foundation::Migration),
            Box::new(m20261128_000002_access::Migration),
            Box::new(m20261128_000003_grants::Migration),
            Box::new(m20261128_000004_append_only::Migration),
            Box::new(m20261129_000005_outcomes::Migration),
            Box::new(m20261129_000006_audit_sequence::Migration),
            Box::new(m20261201_000006_assistance::Migration),
            Box::new(m20261206_000007_owners_and_private_digests::Migration),
            Box::new(m20261206_000008_privacy_key_fingerprints::Migration),
            Box::new(m20261207_000009_appropriations::Migration),
            Box::new(m20261207_000010_payment_requests::Migration),
            Box::new(m20261207_000011_financial_reports::Migration),
            Box::new(m20261207_000012_amendments::Migration),
            Box::new(m20261207_000013_one_ledger::Migration),
            Box::new(m20261207_000014_audit_queue::Migration),
        ]
    }
}
