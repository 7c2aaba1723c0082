//! Secrets held in memory: the database URL today, encryption keys next.
//! A secret is a [`SecretString`] (or another `secrecy` type): its `Debug`
//! prints `[REDACTED]`, it is wiped from memory when dropped, and reading it
//! takes an explicit `expose_secret()`. The rule: expose a secret only where
//! it is used, and show a URL only through [`redact_url`].

pub use secrecy::{ExposeSecret, SecretBox, SecretString};

/// What replaces a password in a URL meant for people or logs.
pub const REDACTED: &str = "***";

/// A URL split into the part that may be shown and its password.
pub struct UrlWithoutPassword {
    /// The URL with no password in it (neither `user:password@` nor `password=`).
    pub url: String,
    /// The password, percent-decoded, when the URL had one.
    pub password: Option<SecretString>,
}

/// `url` with its password (in `user:password@` or a `password=` query
/// parameter) replaced by [`REDACTED`], for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let parts = UrlParts::of(url);
    let mut shown = String::with_capacity(url.len());
    shown.push_str(parts.before_password);
    if parts.password.is_some() {
        shown.push(':');
        shown.push_str(REDACTED);
    }
    shown.push_str(parts.host_and_path);
    if let Some(query) = parts.query {
        shown.push('?');
        shown.push_str(&map_query(query, |key, value| {
            if key.eq_ignore_ascii_case("password") {
                Some(format!("{key}={REDACTED}"))
            } else {
                Some(join_parameter(key, value))
            }
        }));
    }
    shown.push_str(parts.fragment);
    shown
}

/// Splits the password out of `url`, so a driver can get the URL (which it may
/// echo in errors and trace spans) and the password separately.
pub fn split_url_password(url: &SecretString) -> UrlWithoutPassword {
    let url = url.expose_secret();
    let parts = UrlParts::of(url);
    let mut password = parts.password.map(percent_decode);
    let mut rest = String::with_capacity(url.len());
    rest.push_str(parts.before_password);
    rest.push_str(parts.host_and_path);
    if let Some(query) = parts.query {
        let kept = map_query(query, |key, value| {
            if key.eq_ignore_ascii_case("password") {
                password = Some(percent_decode(value.unwrap_or_default()));
                None
            } else {
                Some(join_parameter(key, value))
            }
        });
        if !kept.is_empty() {
            rest.push('?');
            rest.push_str(&kept);
        }
    }
    rest.push_str(parts.fragment);
    UrlWithoutPassword {
        url: rest,
        password: password.map(SecretString::from),
    }
}

/// The pieces of `scheme://user:password@host/path?query#fragment` around the password.
struct UrlParts<'a> {
    /// `scheme://user` (or everything up to the host when there is no password).
    before_password: &'a str,
    /// The raw (percent-encoded) password.
    password: Option<&'a str>,
    /// `@host:port/path` (or `host/path` without user information).
    host_and_path: &'a str,
    query: Option<&'a str>,
    /// `#fragment`, or empty.
    fragment: &'a str,
}

impl<'a> UrlParts<'a> {
    fn of(url: &'a str) -> UrlParts<'a> {
        let (without_fragment, fragment) = match url.find('#') {
            Some(at) => url.split_at(at),
            None => (url, ""),
        };
        let (address, query) = match without_fragment.split_once('?') {
            Some((address, query)) => (address, Some(query)),
            None => (without_fragment, None),
        };
        let authority_start = address.find("://").map_or(0, |at| at + 3);
        let authority_end = address[authority_start..]
            .find('/')
            .map_or(address.len(), |at| authority_start + at);
        // The last '@' ends the user information: a password may contain '@' unencoded.
        let user_information = address[authority_start..authority_end]
            .rfind('@')
            .map(|at| (authority_start, authority_start + at));
        let password_colon = user_information
            .and_then(|(start, end)| address[start..end].find(':').map(|colon| start + colon));
        match (user_information, password_colon) {
            (Some((_, at)), Some(colon)) => UrlParts {
                before_password: &address[..colon],
                password: Some(&address[colon + 1..at]),
                host_and_path: &address[at..],
                query,
                fragment,
            },
            _ => UrlParts {
                before_password: address,
                password: None,
                host_and_path: "",
                query,
                fragment,
            },
        }
    }
}

/// Rebuilds a query string, each `key[=value]` parameter mapped (or dropped when `None`).
fn map_query(query: &str, mut map: impl FnMut(&str, Option<&str>) -> Option<String>) -> String {
    query
        .split('&')
        .filter(|parameter| !parameter.is_empty())
        .filter_map(|parameter| match parameter.split_once('=') {
            Some((key, value)) => map(key, Some(value)),
            None => map(parameter, None),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn join_parameter(key: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{key}={value}"),
        None => key.to_string(),
    }
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| encoded.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_with_its_password_redacted_wherever_it_is() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db:5432/grants?sslmode=require"),
            "postgres://app:***@db:5432/grants?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app:p@ss@db/grants"),
            "postgres://app:***@db/grants"
        );
        assert_eq!(
            redact_url("postgres://db/grants?user=app&password=s3cret&sslmode=require"),
            "postgres://db/grants?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app@db/grants"),
            "postgres://app@db/grants"
        );
        assert_eq!(
            redact_url("sqlite://tipgrants.sqlite3?mode=rwc"),
            "sqlite://tipgrants.sqlite3?mode=rwc"
        );
    }

    #[test]
    fn the_password_is_split_out_of_the_url_and_decoded() {
        let split = split_url_password(&SecretString::from(
            "postgres://app:s3cr%40t@db:5432/grants?sslmode=require",
        ));
        assert_eq!(split.url, "postgres://app@db:5432/grants?sslmode=require");
        assert_eq!(
            split
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
            Some("s3cr@t".to_string())
        );

        let in_query = split_url_password(&SecretString::from(
            "postgres://db/grants?password=a%26b&user=app",
        ));
        assert_eq!(in_query.url, "postgres://db/grants?user=app");
        assert_eq!(
            in_query
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
            Some("a&b".to_string())
        );

        let none = split_url_password(&SecretString::from("postgres://app@db/grants"));
        assert_eq!(none.url, "postgres://app@db/grants");
        assert!(none.password.is_none());
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = SecretString::from("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
