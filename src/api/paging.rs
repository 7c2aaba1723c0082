//! List plumbing shared by every service: page sizes, opaque page tokens
//! (keyset position + a fingerprint of the filter they belong to), and the
//! small filter grammar: `field = value` terms joined by `AND`, values bare
//! or double-quoted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{Keyset, Page};

/// Where a list call starts and how much it takes: the decoded page token
/// and the page size, bound to the query (parent, filter, flags) that the
/// token belongs to. Every list handler decodes and encodes tokens here.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Where the page starts and how many rows it holds.
    pub keyset: Keyset,
    query: String,
}

impl PageRequest {
    /// Reads `page_token` and `page_size` of a list request over `query`.
    pub fn parse(page_token: &str, page_size: i32, query: impl Into<String>) -> Result<Self> {
        let query = query.into();
        Ok(PageRequest {
            keyset: Keyset {
                after: decode_token(page_token, &query)?,
                limit: page_size_of(page_size)?,
            },
            query,
        })
    }

    /// The `next_page_token` after a page that ends at `next_after`.
    pub fn next_token(&self, next_after: Option<String>) -> String {
        encode_token(next_after, &self.query)
    }

    /// The list RPC's response: the page's items, converted, and its `next_page_token`.
    pub fn respond<T, R: ListResponse>(
        &self,
        page: Page<T>,
        convert: impl FnMut(&T) -> R::Item,
    ) -> tonic::Response<R> {
        tonic::Response::new(R::of(
            page.items.iter().map(convert).collect(),
            encode_token(page.next_after, &self.query),
        ))
    }
}

/// A list RPC's response message (`ListGrantsResponse`, ...): one page of
/// items and the token of the next.
pub trait ListResponse {
    /// The message of one item.
    type Item;
    fn of(items: Vec<Self::Item>, next_page_token: String) -> Self;
}

/// Page size when the caller sets none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page size; larger requests are lowered to it.
pub const MAX_PAGE_SIZE: u64 = 500;

/// The page size to use.
fn page_size_of(requested: i32) -> Result<u64> {
    match requested {
        size if size < 0 => Err(Error::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        size => Ok((size as u64).min(MAX_PAGE_SIZE)),
    }
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// Keyset position: the key of the last row of the previous page.
    a: String,
    /// Fingerprint of the query the token belongs to.
    q: String,
}

/// A short hash of the query, ignoring white space outside quotes (`a=1` and `a = 1` are one filter).
fn fingerprint(query: &str) -> String {
    let mut quoted = false;
    let canonical: String = query
        .chars()
        .filter(|c| {
            if *c == '"' {
                quoted = !quoted;
            }
            quoted || !c.is_whitespace()
        })
        .collect();
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

/// Decodes a page token for `query` (the filter and flags of the request).
fn decode_token(token: &str, query: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        Error::invalid(
            "page_token",
            "is not a page token of this list; start again without one",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.q != fingerprint(query) {
        return Err(Error::invalid(
            "page_token",
            "belongs to a different filter; keep the filter of the first page or start again",
        ));
    }
    Ok(Some(token.a))
}

/// The token of the page after `after` for `query`; empty when there is none.
fn encode_token(after: Option<String>, query: &str) -> String {
    match after {
        None => String::new(),
        Some(after) => {
            let token = Token {
                a: after,
                q: fingerprint(query),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
        }
    }
}

/// The error for a filter field the list does not know (what `parse_filter` refuses first).
pub fn unknown_filter_field(field: &str) -> Error {
    Error::invalid(
        "filter",
        format!("unknown field {}", crate::domain::names::excerpt(field)),
    )
}

/// Parses `field = value AND field = value` against the allowed field names.
pub fn parse_filter(filter: &str, allowed: &[&str]) -> Result<Vec<(String, String)>> {
    let mut terms: Vec<(String, String)> = Vec::new();
    let mut rest = filter.trim();
    let fail = |message: String| Error::invalid("filter", message);
    while !rest.is_empty() {
        let (field, after_field) = rest
            .split_once('=')
            .ok_or_else(|| fail(format!("expected `field = value` at {rest:?}")))?;
        let field = field.trim();
        if !allowed.contains(&field) {
            return Err(fail(format!(
                "unknown field {field:?}; fields: {}",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        if terms.iter().any(|(seen, _)| seen == field) {
            return Err(fail(format!("field {field:?} appears more than once")));
        }
        let after_field = after_field.trim_start();
        let (value, remainder) = if let Some(quoted) = after_field.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| fail("unterminated quoted value".into()))?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            let end = after_field
                .find(char::is_whitespace)
                .unwrap_or(after_field.len());
            (after_field[..end].to_string(), &after_field[end..])
        };
        if value.is_empty() {
            return Err(fail(format!("field {field:?} has no value")));
        }
        terms.push((field.to_string(), value));
        let remainder = remainder.trim_start();
        if remainder.is_empty() {
            break;
        }
        let (conjunction, next) = remainder.split_at(
            remainder
                .find(char::is_whitespace)
                .unwrap_or(remainder.len()),
        );
        if conjunction != "AND" {
            return Err(fail(format!(
                "expected AND between terms, found {conjunction:?}"
            )));
        }
        rest = next.trim_start();
        if rest.is_empty() {
            return Err(fail("nothing after AND".into()));
        }
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_bare_and_quoted_values() {
        let terms = parse_filter(
            r#"kind = NGO AND country_code = "HT""#,
            &["kind", "country_code"],
        )
        .unwrap();
        assert_eq!(
            terms,
            vec![
                ("kind".into(), "NGO".into()),
                ("country_code".into(), "HT".into())
            ]
        );
    }

    #[test]
    fn filters_refuse_unknown_fields_and_dangling_and() {
        assert!(parse_filter("colour = red", &["kind"]).is_err());
        assert!(parse_filter("kind = NGO AND", &["kind"]).is_err());
        assert!(parse_filter("kind = NGO OR kind = X", &["kind"]).is_err());
        assert!(parse_filter("kind =", &["kind"]).is_err());
    }

    #[test]
    fn a_token_is_bound_to_its_filter() {
        let token = encode_token(Some("abc".into()), "kind=NGO");
        assert!(page_size_of(-1).is_err());
        assert_eq!(page_size_of(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size_of(100_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(
            decode_token(&token, "kind=NGO").unwrap(),
            Some("abc".into())
        );
        assert!(decode_token(&token, "kind=UNIVERSITY").is_err());
        assert!(decode_token("garbage!", "kind=NGO").is_err());
        assert_eq!(
            decode_token(&token, "kind = NGO").unwrap(),
            Some("abc".into()),
            "spacing does not matter"
        );
    }
}
