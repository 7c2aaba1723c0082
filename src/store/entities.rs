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
        pub method: String,
        pub resource: String,
        pub request_id: String,
        pub diff: Json,
        pub previous_hash: String,
        pub hash: String,
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
