//! tipgrants: a grant-tracking and case-management gRPC server for offices
//! that fund programs against trafficking in persons.
//!
//! Data flows one way: `api` parses and authorises, `domain` decides,
//! `store` persists. `startup` wires them into a server. `cli` holds the
//! client commands of the binary (a CSV upload of outcomes), which call a
//! server over gRPC like any client.

#[macro_use]
pub mod domain;
pub mod api;
pub mod body_watch;
pub mod bootstrap;
pub mod cli;
pub mod connections;
pub mod demo;
pub mod error;
pub mod ops_listener;
pub mod pb;
pub mod privacy;
pub mod secret;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
