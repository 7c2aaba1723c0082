//! List plumbing shared by every service: page sizes, opaque page tokens
//! (keyset position + a fingerprint of the filter they belong to), and the
//! small filter grammar: `field = value` terms joined by `AND`, values bare
//! or double-quoted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::CodeEnum;
use crate::domain::names::excerpt;
use crate::error::{Error, Result};
use crate::store::{Keyset, Page};

/// Where a list call starts and how much it takes: the decoded page token
/// and the page size, bound to the query that the token belongs to. Every
/// list handler decodes and encodes tokens here.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Where the page starts and how many rows it holds.
    pub keyset: Keyset,
    /// A short hash of the query (the request without its page fields).
    query: String,
}

impl PageRequest {
    /// Reads the page fields of a list request. Its token is bound to every
    /// other field of the request (parent, filter, flags), as AIP-158 asks:
    /// a token used with another query is refused, never read as a position
    /// in a list it does not belong to.
    pub fn of<R: ListRequest>(request: &R) -> Result<Self> {
        let mut query = request.clone();
        let (token, size, filter) = query.page_fields();
        let (token, size) = (std::mem::take(token), std::mem::take(size));
        if let Some(filter) = filter {
            *filter = canonical_filter(filter);
        }
        let query = fingerprint(&query.encode_to_vec());
        Ok(PageRequest {
            keyset: Keyset {
                after: decode_token(&token, &query)?,
                limit: page_size_of(size)?,
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

/// A list RPC's request message (`ListGrantsRequest`, ...): its page fields
/// and the query they page through.
pub trait ListRequest: prost::Message + Clone + Send + 'static {
    /// The `page_token`, the `page_size`, and the `filter` if the request has one.
    fn page_fields(&mut self) -> (&mut String, &mut i32, Option<&mut String>);
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

/// A filter without the white space outside quotes: `a=1` and `a = 1` are one filter.
pub fn canonical_filter(filter: &str) -> String {
    let mut quoted = false;
    filter
        .chars()
        .filter(|c| {
            if *c == '"' {
                quoted = !quoted;
            }
            quoted || !c.is_whitespace()
        })
        .collect()
}

/// A short hash of a query.
fn fingerprint(query: &[u8]) -> String {
    hex::encode(&Sha256::digest(query)[..8])
}

/// Decodes a page token of the query with fingerprint `query`.
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
    if token.q != query {
        return Err(Error::invalid(
            "page_token",
            "belongs to a different filter; keep the filter of the first page or start again",
        ));
    }
    // Tokens are not signed: a forged position with a NUL is no row's id, and PostgreSQL
    // refuses NUL in text (an INTERNAL error, not the caller's INVALID_ARGUMENT).
    if token.a.contains('\0') {
        return Err(invalid());
    }
    Ok(Some(token.a))
}

/// The token of the page after `after` of the query with fingerprint `query`; empty when there is none.
fn encode_token(after: Option<String>, query: &str) -> String {
    match after {
        None => String::new(),
        Some(after) => {
            let token = Token {
                a: after,
                q: query.to_string(),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
        }
    }
}

/// A region filter value, `WHA` or `regions/WHA`, as a region code.
pub fn region_filter(value: &str) -> String {
    value.trim_start_matches("regions/").to_ascii_uppercase()
}

/// Parses `field = value AND field = value`, each field one of the list's
/// filter fields `F` (a `code_enum!` whose codes are the field names, so a
/// handler matches every field it allows, exhaustively).
pub fn parse_filter<F: CodeEnum>(filter: &str) -> Result<Vec<(F, String)>> {
    let allowed: Vec<&str> = F::ALL.iter().map(|field| field.code()).collect();
    let mut terms: Vec<(F, String)> = Vec::new();
    let mut rest = filter.trim();
    let fail = |message: String| Error::invalid("filter", message);
    while !rest.is_empty() {
        let (field, after_field) = rest
            .split_once('=')
            .ok_or_else(|| fail(format!("expected `field = value` at {}", excerpt(rest))))?;
        let name = field.trim();
        let Some(field) = F::from_code(name) else {
            return Err(fail(format!(
                "unknown field {}; fields: {}",
                excerpt(name),
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        };
        if terms.iter().any(|(seen, _)| *seen == field) {
            return Err(fail(format!("field {name:?} appears more than once")));
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
            return Err(fail(format!("field {name:?} has no value")));
        }
        terms.push((field, value));
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
                "expected AND between terms, found {}",
                excerpt(conjunction)
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

    code_enum! {
        pub enum Field {
            Kind => "kind",
            CountryCode => "country_code",
        }
    }

    #[test]
    fn filters_parse_bare_and_quoted_values() {
        let terms = parse_filter::<Field>(r#"kind = NGO AND country_code = "HT""#).unwrap();
        assert_eq!(Field::from_code("country_code"), Some(Field::CountryCode));
        assert_eq!(
            terms,
            vec![
                (Field::Kind, "NGO".into()),
                (Field::CountryCode, "HT".into())
            ]
        );
    }

    #[test]
    fn filters_refuse_unknown_fields_repeated_fields_and_dangling_and() {
        assert!(parse_filter::<Field>("colour = red").is_err());
        assert!(parse_filter::<Field>("kind = NGO AND").is_err());
        assert!(parse_filter::<Field>("kind = NGO OR kind = X").is_err());
        assert!(parse_filter::<Field>("kind = NGO AND kind = X").is_err());
        assert!(parse_filter::<Field>("kind =").is_err());
        let long = "x".repeat(10_000);
        let error = parse_filter::<Field>(&format!("{long} = 1")).unwrap_err();
        assert!(
            error.to_string().len() < 300,
            "a bad field is not echoed whole"
        );
    }

    #[test]
    fn a_forged_token_whose_position_holds_a_nul_is_refused_as_a_bad_page_token() {
        let forged = encode_token(Some("\0".into()), "q");
        let error = decode_token(&forged, "q").expect_err("a NUL is no row's position");
        assert!(error.to_string().contains("page_token"), "{error}");
        assert_eq!(
            decode_token(&encode_token(Some("a".into()), "q"), "q").ok(),
            Some(Some("a".into()))
        );
    }

    #[test]
    fn a_token_is_bound_to_every_field_but_the_page_fields() {
        use crate::pb::v1 as pb;
        let first = pb::ListOrganizationsRequest {
            filter: "kind = NGO".into(),
            page_size: 2,
            ..Default::default()
        };
        let token = PageRequest::of(&first)
            .unwrap()
            .next_token(Some("abc".into()));
        let next = |change: fn(&mut pb::ListOrganizationsRequest)| {
            let mut request = pb::ListOrganizationsRequest {
                page_token: token.clone(),
                ..first.clone()
            };
            change(&mut request);
            PageRequest::of(&request).map(|page| page.keyset.after)
        };

        assert_eq!(next(|_| {}).unwrap(), Some("abc".into()));
        assert_eq!(
            next(|request| {
                request.filter = "kind=NGO".into();
                request.page_size = 9;
            })
            .unwrap(),
            Some("abc".into()),
            "spacing and page size do not matter"
        );
        assert!(next(|request| request.filter = "kind = UNIVERSITY".into()).is_err());
        assert!(next(|request| request.show_deleted = true).is_err());
        assert!(next(|request| request.page_token = "garbage!".into()).is_err());
        assert_eq!(
            canonical_filter(r#"kind = NGO AND name = "a b""#),
            r#"kind=NGOANDname="a b""#
        );
        assert!(page_size_of(-1).is_err());
        assert_eq!(page_size_of(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size_of(100_000).unwrap(), MAX_PAGE_SIZE);
    }
}
