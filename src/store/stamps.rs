//! The bookkeeping columns of versioned tables (`create_time`, `update_time`,
//! `revision`) and the domain's [`Stamps`], said once: a row read answers its
//! stamps, a new row starts from them, an updated row carries the next ones.
//!
//! ```text
//! let row = organizations::ActiveModel { id: Set(new_id()), /* fields */ ..Stamped::created(Stamps::new(now())) };
//! let row = organizations::ActiveModel { id: Unchanged(id), /* fields */ ..Stamped::revised(stamps) };
//! ```

use sea_orm::ActiveValue::{NotSet, Set};

use super::entities::{
    amendments, appropriations, assistance_cases, financial_reports, funding_accounts, grants,
    indicators, organizations, outcome_reports, outcomes, payment_requests, projects, tip_rankings,
    tip_recommendations,
};
use crate::domain::version::Stamps;

/// The active model of a versioned table, with only its bookkeeping columns set.
pub(super) trait Stamped: Sized {
    /// A new row's columns at `stamps`; a soft-deletable row starts live.
    fn created(stamps: Stamps) -> Self;

    /// The columns a revision changes: `update_time` and `revision` (never `create_time`).
    fn revised(stamps: Stamps) -> Self;
}

/// The active model of a soft-deletable table: a save is a revision that may delete.
pub(super) trait SoftDeletable: Stamped {
    /// The columns a save changes: those of the revision at `stamps` and, when
    /// `delete`, `delete_time` (at the revision's update time).
    fn saved(stamps: Stamps, delete: bool) -> Self;
}

/// Implements [`Stamped`] for a table's active model and `stamps()` for its
/// model. `table + delete_time` names a soft-deletable table: its new rows
/// are written with `delete_time` NULL, and it is [`SoftDeletable`].
macro_rules! stamped {
    ($($table:ident $(+ $delete_time:ident)?),+ $(,)?) => {
        $(
            impl Stamped for $table::ActiveModel {
                fn created(stamps: Stamps) -> Self {
                    Self {
                        create_time: Set(stamps.create_time),
                        update_time: Set(stamps.update_time),
                        revision: Set(stamps.revision),
                        $($delete_time: Set(None),)?
                        ..Default::default()
                    }
                }

                fn revised(stamps: Stamps) -> Self {
                    Self {
                        update_time: Set(stamps.update_time),
                        revision: Set(stamps.revision),
                        ..Default::default()
                    }
                }
            }

            $(
                impl SoftDeletable for $table::ActiveModel {
                    fn saved(stamps: Stamps, delete: bool) -> Self {
                        Self {
                            $delete_time: match delete {
                                true => Set(Some(stamps.update_time)),
                                false => NotSet,
                            },
                            ..Stamped::revised(stamps)
                        }
                    }
                }
            )?

            impl $table::Model {
                /// The row's bookkeeping.
                pub(super) fn stamps(&self) -> Stamps {
                    Stamps {
                        create_time: self.create_time,
                        update_time: self.update_time,
                        revision: self.revision,
                    }
                }
            }
        )+
    };
}

stamped! {
    amendments,
    appropriations,
    assistance_cases,
    financial_reports,
    payment_requests,
    grants,
    outcome_reports,
    projects,
    tip_rankings,
    funding_accounts + delete_time,
    indicators + delete_time,
    organizations + delete_time,
    outcomes + delete_time,
    tip_recommendations + delete_time,
}
