//! The integration suite: the real server, real databases, generated clients,
//! and a real grpcurl for the end-to-end tests and the guides' shell blocks.
//! One binary, one module per area.

mod access;
mod assistance;
mod audit;
mod concurrency;
mod end_to_end;
mod grants;
mod guides;
mod hardening;
mod helpers;
mod organizations;
mod outcome_reports;
mod projects;
mod reference_data;
mod reports;
mod server;
mod settings;
mod tip_report;
mod transport;
