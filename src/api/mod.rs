//! gRPC adapters: one `*_api.rs` per service. A handler reads like a
//! paragraph: who is asking (the `CallContext` the auth layer put on the
//! request), what they asked for (parsed into domain types, with field
//! violations), the decision, the write with its audit event in one
//! transaction, the answer. No SeaORM here.
//!
//! Beside the services: `requests.rs` (reading a request), `writes.rs`
//! (idempotent writes), `enums.rs` (proto <-> domain enums), `filters.rs`
//! (list filters) and `macros.rs` (the one-line trait implementations).

#[macro_use]
mod macros;

pub mod access_api;
pub mod admission;
pub mod amendment_api;
pub mod assistance_api;
pub mod audit_api;
pub mod auth;
pub mod closeout_api;
pub mod deadline;
pub mod enums;
mod filters;
pub mod financial_report_api;
pub mod funds_api;
pub mod grant_api;
pub mod middleware;
pub mod organization_api;
pub mod outcome_report_api;
pub mod outcome_upload;
pub mod paging;
pub mod payment_api;
pub mod permissions;
pub mod project_api;
pub mod reference_data_api;
pub mod report_api;
mod requests;
pub mod shares;
pub mod spool;
pub mod standards_export;
pub mod streaming;
pub mod tip_report_api;
pub mod upload_limits;
pub mod web_bodies;
mod writes;

pub use enums::ProtoEnum;
pub use filters::*;
pub use requests::*;
pub use writes::*;
