//! Who may act: roles, the acting token (`Actor`), the secret format of API
//! tokens and their rules. What each role may call is the permission table in
//! `api::permissions`; which rows a role may see is `Scope`, applied by the
//! store's finders.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::validate::{self, MAX_DISPLAY_NAME, Violations};
use crate::error::{Error, Result};

/// The role of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    ProgramOfficer,
    CaseWorker,
    Auditor,
    Grantee,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::ProgramOfficer,
        Role::CaseWorker,
        Role::Auditor,
        Role::Grantee,
    ];

    /// The stored code, e.g. `PROGRAM_OFFICER`.
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::ProgramOfficer => "PROGRAM_OFFICER",
            Role::CaseWorker => "CASE_WORKER",
            Role::Auditor => "AUDITOR",
            Role::Grantee => "GRANTEE",
        }
    }

    /// Parses a stored or command-line code (case-insensitive, `-` or `_`).
    pub fn from_code(code: &str) -> Option<Role> {
        let normalized = code.trim().to_ascii_uppercase().replace('-', "_");
        Role::ALL.into_iter().find(|role| role.code() == normalized)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The id of the server's own actor (bootstrap, command line, migrations).
pub const SYSTEM_ACTOR_ID: &str = "system";

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token id (`apiTokens/{id}`), or `system`.
    pub token_id: String,
    pub role: Role,
    /// The organisation a GRANTEE is bound to.
    pub organization_id: Option<String>,
}

impl Actor {
    /// The server itself, acting from the command line or at start.
    pub fn system() -> Actor {
        Actor {
            token_id: SYSTEM_ACTOR_ID.to_string(),
            role: Role::Admin,
            organization_id: None,
        }
    }

    /// `apiTokens/{id}`.
    pub fn resource_name(&self) -> String {
        format!("apiTokens/{}", self.token_id)
    }

    /// Which rows this actor may see.
    pub fn scope(&self) -> Scope {
        match (&self.role, &self.organization_id) {
            (Role::Grantee, Some(organization)) => Scope::Organization(organization.clone()),
            // A grantee token without an organisation sees nothing.
            (Role::Grantee, None) => Scope::Organization(String::new()),
            _ => Scope::All,
        }
    }
}

/// The rows a caller may see: everything, or one organisation's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Organization(String),
}

/// Prefix of every token secret, so leaked secrets are easy to recognise in logs and scanners.
pub const SECRET_PREFIX: &str = "tg_";

/// A fresh token secret: 256 random bits, base64url.
pub fn generate_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a secret: hex SHA-256. The secret has 256 bits of
/// entropy, so a fast hash is enough: there is nothing to brute-force.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The first characters of a secret, shown to tell tokens apart.
pub fn secret_display_prefix(secret: &str) -> String {
    secret.chars().take(SECRET_PREFIX.len() + 6).collect()
}

/// Default lifetime of a new token, and the longest allowed.
pub const DEFAULT_TOKEN_LIFETIME_DAYS: i64 = 90;
pub const MAX_TOKEN_LIFETIME_DAYS: i64 = 731;

/// A checked request for a new token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewToken {
    pub display_name: String,
    pub owner: String,
    pub role: Role,
    pub organization_id: Option<String>,
    pub expire_time: DateTime<Utc>,
}

/// Unchecked input for a token.
pub struct TokenInput<'a> {
    pub display_name: &'a str,
    pub owner: &'a str,
    pub role: Option<Role>,
    /// Organisation id, already parsed from its resource name (or the field's violation).
    pub organization_id: Result<Option<String>, String>,
    pub expire_time: Option<DateTime<Utc>>,
}

impl TokenInput<'_> {
    /// Checks the token rules at `now`.
    pub fn validate(self, prefix: &str, now: DateTime<Utc>) -> Result<NewToken> {
        let mut violations = Violations::new();
        let display_name = violations.check(validate::required_text(
            &format!("{prefix}.display_name"),
            self.display_name,
            MAX_DISPLAY_NAME,
        ));
        let owner = violations.check(validate::required_text(
            &format!("{prefix}.owner"),
            self.owner,
            MAX_DISPLAY_NAME,
        ));
        let organization_field = format!("{prefix}.organization");
        let organization_id = match self.organization_id {
            Ok(id) => id,
            Err(description) => {
                violations.add(&organization_field, description);
                None
            }
        };
        match (self.role, &organization_id) {
            (None, _) => violations.add(
                format!("{prefix}.role"),
                "is required: ADMIN, PROGRAM_OFFICER, CASE_WORKER, AUDITOR or GRANTEE",
            ),
            (Some(Role::Grantee), None) => {
                violations.add(&organization_field, "is required for a GRANTEE token")
            }
            (Some(role), Some(_)) if role != Role::Grantee => violations.add(
                &organization_field,
                "must be empty unless the role is GRANTEE",
            ),
            _ => {}
        }
        let expire_time = match self.expire_time {
            None => now + Duration::days(DEFAULT_TOKEN_LIFETIME_DAYS),
            Some(time) if time <= now => {
                violations.add(format!("{prefix}.expire_time"), "must be in the future");
                now
            }
            Some(time) if time > now + Duration::days(MAX_TOKEN_LIFETIME_DAYS) => {
                violations.add(
                    format!("{prefix}.expire_time"),
                    "must be at most two years ahead",
                );
                now
            }
            Some(time) => time,
        };
        // Both databases keep microseconds: keep no more, so what is stored is what is answered.
        let expire_time =
            DateTime::from_timestamp_micros(expire_time.timestamp_micros()).unwrap_or(expire_time);
        violations.finish()?;
        Ok(NewToken {
            display_name: display_name.unwrap_or_default(),
            owner: owner.unwrap_or_default(),
            role: self.role.unwrap_or(Role::Auditor),
            organization_id,
            expire_time,
        })
    }
}

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub display_name: String,
    pub owner: String,
    pub role: Role,
    pub organization_id: Option<String>,
    pub expire_time: DateTime<Utc>,
    pub revoke_time: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    pub secret_prefix: String,
}

impl ApiToken {
    pub fn resource_name(&self) -> String {
        format!("apiTokens/{}", self.id)
    }

    /// Whether the token may be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoke_time.is_none() && now < self.expire_time
    }

    /// The actor this token makes, or `UNAUTHENTICATED` when it is not active.
    pub fn actor(&self, now: DateTime<Utc>) -> Result<Actor> {
        if !self.is_active(now) {
            return Err(Error::Unauthenticated);
        }
        Ok(Actor {
            token_id: self.id.clone(),
            role: self.role,
            organization_id: self.organization_id.clone(),
        })
    }

    /// Refuses to revoke a token twice.
    pub fn check_revocable(&self) -> Result<()> {
        if self.revoke_time.is_some() {
            return Err(Error::precondition(
                "TOKEN_ALREADY_REVOKED",
                self.resource_name(),
                "the token is already revoked",
            ));
        }
        Ok(())
    }
}
