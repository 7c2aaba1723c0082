//! The integration suite: the real server, real databases, generated clients,
//! and a real grpcurl for the end-to-end tests and the guides' shell blocks.
//! One binary, one module per area.

mod access;
mod amendments;
mod assistance;
mod audit;
mod bad_input;
mod browser;
mod closeouts;
mod concurrency;
mod demo;
mod end_to_end;
mod faults;
mod financial_reports;
mod funds;
mod grants;
mod guides;
mod hardening;
mod helpers;
mod hostile;
mod isolation;
mod metrics;
mod ops_listener;
mod organizations;
mod otlp;
mod outcome_reports;
mod outcomes_cli;
mod payments;
mod privacy_keys;
mod projects;
mod python_client;
mod reference_data;
mod referrals;
mod replicas;
mod reports;
mod server;
mod settings;
mod spending;
mod spreadsheets;
mod standards;
mod statistics;
mod tip_report;
mod transport;
mod uploads;
