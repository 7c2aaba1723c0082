//! Who may act: roles, the acting token (`Actor`) and the person behind it
//! (its owner), the secret format of API tokens and their rules. What each
//! role may call is the permission table in `api::permissions`; which rows a
//! role may see is `Scope`, applied by the store's finders. Four eyes compare
//! persons, never tokens: `Actor::is_person` is the one comparison.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::names::{ApiTokenName, OrganizationName, ResourceName};
use super::validate::{self, CheckAll};
use crate::error::{Error, FieldViolation, Result};

code_enum! {
    /// The role of a token.
    pub enum Role {
        Admin => "ADMIN",
        ProgramOfficer => "PROGRAM_OFFICER",
        CaseWorker => "CASE_WORKER",
        Auditor => "AUDITOR",
        Grantee => "GRANTEE",
        GrantsOfficer => "GRANTS_OFFICER",
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
    /// The person the token belongs to (the token's `owner`, as written when it was created).
    pub owner: String,
}

impl Actor {
    /// The server itself, acting from the command line or at start.
    pub fn system() -> Actor {
        Actor {
            token_id: SYSTEM_ACTOR_ID.to_string(),
            role: Role::Admin,
            organization_id: None,
            owner: SYSTEM_ACTOR_ID.to_string(),
        }
    }

    /// `apiTokens/{id}`.
    pub fn resource_name(&self) -> String {
        ApiTokenName::new(&self.token_id).to_string()
    }

    /// Whether this caller is the person a record names as `token` (`apiTokens/{id}`) owned by
    /// `owner`: the same token, or any token of the same owner ([`person_key`]). Four eyes
    /// compare persons, so a second token of one owner is no second pair of eyes. A record
    /// written before owners were kept (empty `owner`) matches its own token only.
    pub fn is_person(&self, token: &str, owner: &str) -> bool {
        if token.is_empty() {
            return false;
        }
        let owner = person_key(owner);
        token == self.resource_name() || (!owner.is_empty() && owner == person_key(&self.owner))
    }

    /// How this caller sees who made a change (`apiTokens/{id}`): a grantee
    /// sees its own tokens, and "program office" for anyone else, never a staff token id.
    pub fn sees_actor(&self, actor: &str) -> String {
        self.sees_actor_of(actor, "program office")
    }

    /// Like [`Actor::sees_actor`], naming the staff `office` (e.g. "assistance office").
    pub fn sees_actor_of(&self, actor: &str, office: &str) -> String {
        if self.role == Role::Grantee && !actor.is_empty() && actor != self.resource_name() {
            office.to_string()
        } else {
            actor.to_string()
        }
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

/// The person an owner names, as four eyes compare it: Unicode NFKC (so full-width and
/// composed forms of one letter are one), lower case, surrounding white space trimmed and
/// white space inside collapsed to one space. `Jane.Doe@Example.org` and ` jane.doe@EXAMPLE.ORG`
/// are one person; so are two tokens whose owners differ only that way.
pub fn person_key(owner: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = owner.nfkc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
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
    /// The organisation's resource name, empty for none.
    pub organization: &'a str,
    pub expire_time: Option<DateTime<Utc>>,
}

impl TokenInput<'_> {
    /// Checks the token rules at `now`.
    pub fn validate(self, prefix: &str, now: DateTime<Utc>) -> Result<NewToken> {
        let field = |name: &str| format!("{prefix}.{name}");
        let organization = match self.organization.trim() {
            "" => Ok(None),
            name => OrganizationName::parse(&field("organization"), name).map(Some),
        };
        let role = validate::required(&field("role"), self.role);
        let bound = match (&role, &organization) {
            (Ok(Role::Grantee), Ok(None)) => Err(FieldViolation::new(
                field("organization"),
                "is required for a GRANTEE token",
            )),
            (Ok(role), Ok(Some(_))) if *role != Role::Grantee => Err(FieldViolation::new(
                field("organization"),
                "must be empty unless the role is GRANTEE",
            )),
            _ => Ok(()),
        };
        let expire_time = match self.expire_time {
            None => Ok(now + Duration::days(DEFAULT_TOKEN_LIFETIME_DAYS)),
            Some(time) if time <= now => Err(FieldViolation::new(
                field("expire_time"),
                "must be in the future",
            )),
            Some(time) if time > now + Duration::days(MAX_TOKEN_LIFETIME_DAYS) => Err(
                FieldViolation::new(field("expire_time"), "must be at most two years ahead"),
            ),
            Some(time) => Ok(time),
        };
        let (display_name, owner, role, organization, (), expire_time) = (
            validate::display_name(&field("display_name"), self.display_name),
            validate::display_name(&field("owner"), self.owner),
            role,
            organization,
            bound,
            expire_time,
        )
            .all()?;
        // Both databases keep microseconds: keep no more, so what is stored is what is answered.
        let expire_time =
            DateTime::from_timestamp_micros(expire_time.timestamp_micros()).unwrap_or(expire_time);
        Ok(NewToken {
            display_name,
            owner,
            role,
            organization_id: organization.map(|name| name.organization),
            expire_time,
        })
    }
}

audited!(ApiToken => id, display_name, owner, role, organization_id, expire_time, revoke_time, create_time, secret_prefix);

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
        ApiTokenName::new(&self.id).to_string()
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
            owner: self.owner.clone(),
        })
    }

    /// Refuses to revoke the last live admin token (`other_admins`: live admin
    /// tokens besides this one): nobody could administer the server any more.
    pub fn check_not_last_admin(&self, other_admins: u64) -> Result<()> {
        if self.role == Role::Admin && other_admins == 0 {
            return Err(Error::precondition(
                "LAST_ADMIN_TOKEN",
                self.resource_name(),
                "this is the last live admin token: create another first \
                 (CreateApiToken, or `tipgrants token create --role admin` on the server)",
            ));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(token_id: &str, owner: &str) -> Actor {
        Actor {
            token_id: token_id.into(),
            role: Role::CaseWorker,
            organization_id: None,
            owner: owner.into(),
        }
    }

    #[test]
    fn owners_are_one_person_whatever_their_case_width_and_surrounding_spaces() {
        for (one, other) in [
            ("Jane.Doe@Example.org", " jane.doe@EXAMPLE.ORG "),
            ("Ana  Silva", "ana silva"),
            ("ＡＮＡ", "ana"),
            ("Jos\u{e9}", "JOSE\u{301}"),
        ] {
            assert_eq!(person_key(one), person_key(other), "{one:?} {other:?}");
        }
        assert_ne!(
            person_key("ana@state.example"),
            person_key("ana2@state.example")
        );
    }

    #[test]
    fn a_caller_is_the_person_of_its_own_token_and_of_every_token_of_its_owner() {
        let ana = actor("a1", "Ana@state.example");
        assert!(
            ana.is_person("apiTokens/a1", ""),
            "its own token, owner unknown"
        );
        assert!(ana.is_person("apiTokens/a2", "ana@STATE.example"));
        assert!(!ana.is_person("apiTokens/b1", "ben@state.example"));
        assert!(
            !ana.is_person("apiTokens/b1", ""),
            "unknown owner, other token"
        );
        assert!(!ana.is_person("", ""), "nobody recorded");
    }
}
