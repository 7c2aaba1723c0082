//! The first admin token. On first start with no token at all, the server
//! creates one and hands it over once: in a file only the server's user can
//! read (`auth.bootstrap_token_file`), or on standard error. Its fixed id
//! makes a second bootstrap (a second replica starting at once) impossible.
//! The same code backs `tipgrants token create`.

use std::io::Write;
use std::path::Path;

use chrono::{Duration, Utc};

use crate::domain::access::{Actor, DEFAULT_TOKEN_LIFETIME_DAYS, NewToken, Role};
use crate::error::{Error, Result};
use crate::store::{CallContext, Store};

/// The fixed id of the bootstrap token.
pub const BOOTSTRAP_TOKEN_ID: &str = "bootstrap";

fn system_call(method: &str) -> CallContext {
    CallContext {
        actor: Actor::system(),
        method: method.to_string(),
        request_id: String::new(),
    }
}

/// Creates a token on behalf of the server itself (command line, bootstrap); returns its name and secret.
pub async fn create_token(
    store: &Store,
    method: &str,
    new: NewToken,
    id: Option<&str>,
) -> Result<(String, String)> {
    let mut tx = store.begin(&system_call(method)).await?;
    if let Some(organization) = &new.organization_id {
        tx.organization_presence(organization).await?.require_live(
            "organization",
            &crate::domain::names::OrganizationName::new(organization),
        )?;
    }
    let (token, secret) = tx.create_token(new, id).await?;
    tx.commit().await?;
    Ok((token.resource_name(), secret))
}

/// Creates the first admin token when no token exists, and hands it over.
/// With a token file, the file is created first (exclusively): a path that
/// exists already stops the start before any token is made.
pub async fn ensure_admin_token(store: &Store, file: Option<&Path>) -> Result<()> {
    if store.count_tokens().await? > 0 {
        return Ok(());
    }
    let mut opened = match file {
        Some(path) => Some((path, create_private_file(path)?)),
        None => None,
    };
    let new = NewToken {
        display_name: "bootstrap admin".into(),
        owner: "bootstrap".into(),
        role: Role::Admin,
        organization_id: None,
        expire_time: Utc::now() + Duration::days(DEFAULT_TOKEN_LIFETIME_DAYS),
    };
    let secret = match create_token(store, "bootstrap", new, Some(BOOTSTRAP_TOKEN_ID)).await {
        Ok((_, secret)) => secret,
        Err(error) => {
            // Nothing to hand over: leave no empty file behind.
            if let Some((path, _)) = opened.take() {
                let _removed = std::fs::remove_file(path);
            }
            return match error {
                // Another replica bootstrapped at the same moment.
                Error::AlreadyExists { .. } => Ok(()),
                error => Err(error),
            };
        }
    };
    match opened {
        Some((path, mut handle)) => {
            writeln!(handle, "{secret}").map_err(|error| {
                Error::Internal(format!("cannot write {}: {error}", path.display()))
            })?;
            tracing::warn!(
                file = %path.display(),
                "created the first admin token (apiTokens/bootstrap) and wrote it to this file, readable only by this user; \
                 create named tokens with it, then revoke it"
            );
        }
        None => {
            let mut stderr = std::io::stderr().lock();
            let _written = writeln!(
                stderr,
                "\nCreated the first admin token (apiTokens/{BOOTSTRAP_TOKEN_ID}). It is shown once:\n\n    {secret}\n\n\
                 Use it as `authorization: Bearer <token>`; create named tokens with it, then revoke it.\n"
            );
        }
    }
    Ok(())
}

/// Creates the token file, refusing one that exists (a file or a link) with a message naming the setting.
fn create_private_file(path: &Path) -> Result<std::fs::File> {
    open_private_file(path).map_err(|error| {
        let why = if error.kind() == std::io::ErrorKind::AlreadyExists {
            "it already exists (a file or a link): remove it, or choose a new path in a directory only this user can write".to_string()
        } else {
            error.to_string()
        };
        Error::Internal(format!(
            "auth.bootstrap_token_file: cannot create {}: {why}",
            path.display()
        ))
    })
}

/// Opens a new file only this user can read. The file must not exist:
/// `create_new` (O_CREAT|O_EXCL) refuses an existing file and any symbolic
/// link, so a file planted by another user never receives the secret.
fn open_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
