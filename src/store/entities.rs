//! SeaORM entities: one module per table, matching `migrations/` column for
//! column. Only `store` sees them; everything else sees domain types.

#![allow(missing_docs)]

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod regions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "regions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub display_name: String,
    }
    no_relations!();
}

pub mod countries {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "countries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub alpha2: String,
        pub alpha3: String,
        pub numeric: String,
        pub display_name: String,
        pub region_code: String,
    }
    no_relations!();
}

pub mod organizations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub kind: String,
        pub country_code: String,
        pub identifiers: Json,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub delete_time: Option<DateTimeUtc>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod funding_accounts {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "funding_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub display_name: String,
        pub description: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub delete_time: Option<DateTimeUtc>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod appropriations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "appropriations")]
    pub struct Model {
        /// `{account_code}/{fiscal_year}`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_code: String,
        pub fiscal_year: i32,
        pub amount_cents: i64,
        pub availability_years: i32,
        pub note: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod financial_reports {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "financial_reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub period: String,
        pub period_start_date: Date,
        pub period_end_date: Date,
        pub due_date: Date,
        pub state: String,
        pub cash_receipts: i64,
        pub cash_disbursements: i64,
        pub federal_expenditures: i64,
        pub federal_unliquidated_obligations: i64,
        pub recipient_share_required: i64,
        pub recipient_share_expended: i64,
        pub indirect_rate_type: String,
        pub indirect_rate_basis_points: i32,
        pub indirect_base: i64,
        pub indirect_amount: i64,
        pub expenditure_decrease_reason: String,
        pub remarks: String,
        pub federal_funds_authorized: i64,
        pub reviewer_comments: String,
        pub submitter: String,
        pub submitter_owner: String,
        pub reviewer: String,
        pub reviewer_owner: String,
        pub submit_time: Option<DateTimeUtc>,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod payment_requests {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub kind: String,
        pub account_code: String,
        pub fiscal_year: i32,
        pub amount_cents: i64,
        pub period_start_date: Date,
        pub period_end_date: Date,
        pub description: String,
        pub state: String,
        pub state_reason: String,
        pub requester: String,
        pub requester_owner: String,
        pub decider: String,
        pub decider_owner: String,
        pub payment_date: Option<Date>,
        pub payment_reference: String,
        /// The advance flag: why the advance exceeds immediate cash needs; empty when it does not.
        pub excess_cash_note: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod amendments {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "amendments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub kind: String,
        pub justification: String,
        pub end_date: Option<Date>,
        pub account_code: String,
        pub fiscal_year: i32,
        pub amount_cents: i64,
        pub obligation_date: Option<Date>,
        /// JSON: `[["TRAVEL", -100], ...]`, signed cents by category in the order given.
        pub budget_changes: String,
        pub moved_cents: i64,
        pub prior_approval_required: bool,
        pub state: String,
        pub state_reason: String,
        pub requester: String,
        pub requester_owner: String,
        pub decider: String,
        pub decider_owner: String,
        pub obligation_id: String,
        pub grant_revision: i64,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod idempotency_keys {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub principal: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub method: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub request_hash: String,
        /// A keyed digest of the request's personal data, `{key_id}:{hex}`; never the data.
        pub personal_data_digest: Option<String>,
        pub response: Vec<u8>,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod audit_events {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        pub event_time: DateTimeUtc,
        pub actor: String,
        pub actor_role: String,
        /// The owner of the actor's token; empty on events written before it was kept.
        pub actor_owner: String,
        pub method: String,
        pub resource: String,
        pub request_id: String,
        pub diff: Json,
        pub previous_hash: String,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_pending {
    use sea_orm::entity::prelude::*;
    /// An audit event written by a committed change and not chained yet (PostgreSQL).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_pending")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub event_time: DateTimeUtc,
        pub actor: String,
        pub actor_role: String,
        pub actor_owner: String,
        pub method: String,
        pub resource: String,
        pub request_id: String,
        pub diff: Json,
    }
    no_relations!();
}

pub mod audit_head {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_head")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub sequence: i64,
        pub hash: String,
    }
    no_relations!();
}

pub mod privacy_keys {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "privacy_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_id: String,
        pub fingerprint: String,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod api_tokens {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub owner: String,
        pub role: String,
        pub organization_id: Option<String>,
        pub secret_hash: String,
        pub secret_prefix: String,
        pub expire_time: DateTimeUtc,
        pub revoke_time: Option<DateTimeUtc>,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod tip_rankings {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tip_rankings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub country_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub report_year: i32,
        pub tier: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod tip_recommendations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tip_recommendations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub country_code: String,
        pub report_year: i32,
        pub pillar: String,
        pub text: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub delete_time: Option<DateTimeUtc>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod grants {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub award_number: String,
        pub title: String,
        pub organization_id: String,
        pub instrument: String,
        pub approach: String,
        pub start_date: Date,
        pub end_date: Date,
        pub reporting_cadence: String,
        pub program_officer: String,
        pub state: String,
        pub state_reason: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
        /// JSON: cents by SF-424A category, `{}` for none.
        pub budget: String,
    }
    no_relations!();
}

pub mod obligations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "obligations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub kind: String,
        pub account_code: String,
        pub fiscal_year: i32,
        pub amount_cents: i64,
        pub obligation_date: Date,
        pub note: String,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod grant_revisions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "grant_revisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub grant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        pub revision_time: DateTimeUtc,
        pub actor: String,
        pub method: String,
        pub terms: Json,
    }
    no_relations!();
}

pub mod projects {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub title: String,
        pub summary: String,
        pub start_date: Date,
        pub end_date: Date,
        pub state: String,
        pub activity_kinds: Json,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod project_countries {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_countries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub country_code: String,
    }
    no_relations!();
}

pub mod project_pillars {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_pillars")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub pillar: String,
    }
    no_relations!();
}

pub mod project_recommendations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_recommendations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub recommendation_id: String,
    }
    no_relations!();
}

pub mod indicators {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "indicators")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub display_name: String,
        pub unit: String,
        pub outcome_kind: String,
        pub baseline: i64,
        pub targets: Json,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub delete_time: Option<DateTimeUtc>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod outcome_reports {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outcome_reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub project_id: String,
        pub period: String,
        pub period_start_date: Date,
        pub period_end_date: Date,
        pub due_date: Option<Date>,
        pub state: String,
        pub narrative: String,
        pub reviewer_comments: String,
        pub submitter: String,
        pub submit_time: Option<DateTimeUtc>,
        pub reviewer: String,
        pub review_time: Option<DateTimeUtc>,
        /// The owners of the submitter's and the reviewer's tokens (migration `m20261206_000007`).
        pub submitter_owner: String,
        pub reviewer_owner: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod milestones {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "milestones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub country_code: String,
        pub milestone_date: Date,
        pub fiscal_year: i32,
        pub description: String,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod outcomes {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outcomes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub report_id: String,
        pub kind: String,
        pub country_code: String,
        pub outcome_date: Option<Date>,
        pub fiscal_year: Option<i32>,
        pub quantity: i64,
        pub breakdown: Json,
        pub first_for_country: bool,
        pub description: String,
        pub evidence_uri: String,
        pub indicator_id: String,
        pub milestone_id: Option<String>,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub delete_time: Option<DateTimeUtc>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod fund_years {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fund_years")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub fiscal_year: i32,
        pub allocated: i64,
        pub committed: i64,
        pub paid: i64,
        pub case_sequence: i64,
        pub update_time: DateTimeUtc,
    }
    no_relations!();
}

pub mod fund_allocations {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fund_allocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub fiscal_year: i32,
        pub amount: i64,
        pub note: String,
        pub creator: String,
        pub create_time: DateTimeUtc,
        /// The funding account whose money of `fiscal_year` it draws on.
        pub account_code: String,
        /// The day it took effect; NULL for allocations recorded before they drew on
        /// appropriations (their day is the day they were recorded).
        pub allocation_date: Option<Date>,
    }
    no_relations!();
}

pub mod assistance_cases {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "assistance_cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_number: String,
        pub fiscal_year: i32,
        pub referring_organization_id: String,
        pub country_code: String,
        pub victim_sex: String,
        pub victim_age_group: String,
        pub victim_nationality: String,
        pub trafficking_form: String,
        pub urgency: String,
        pub consent_to_services: bool,
        pub consent_to_statistics: bool,
        /// The needs with their money, a JSON list.
        pub needs: Json,
        pub state: String,
        pub referral_time: DateTimeUtc,
        pub decision_time: Option<DateTimeUtc>,
        pub first_payment_time: Option<DateTimeUtc>,
        pub close_time: Option<DateTimeUtc>,
        pub state_reason: String,
        pub outcome: String,
        pub referrer: String,
        pub reviewer: String,
        pub decider: String,
        /// The owners of those tokens (migration `m20261206_000007`).
        pub referrer_owner: String,
        pub reviewer_owner: String,
        pub decider_owner: String,
        pub requested_amount: i64,
        pub approved_amount: i64,
        pub paid_amount: i64,
        /// Sealed personal data (`{key_id}:{nonce}:{ciphertext}`), never plaintext.
        pub full_name_sealed: Option<String>,
        pub contact_sealed: Option<String>,
        pub notes_sealed: Option<String>,
        pub personal_data_key: Option<String>,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub revision: i64,
    }
    no_relations!();
}

pub mod disbursements {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "disbursements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        pub need_number: i32,
        pub need_kind: String,
        pub amount: i64,
        pub payment_time: DateTimeUtc,
        pub reference: String,
        pub creator: String,
        pub create_time: DateTimeUtc,
    }
    no_relations!();
}
