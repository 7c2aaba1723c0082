//! What makes a retry the same request: a retry under a used `request_id`
//! replays the first answer only when it asks for exactly what the first
//! asked for; anything else is `REQUEST_ID_REUSED`. The request is known by
//! its hash, and, for a request that carries a victim's personal data (a
//! referral), by a keyed digest of that data, since neither the data nor a
//! plain hash of it (a name is easy to guess) may be stored.

use crate::error::{Error, Result};

/// What identifies one request under its `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint {
    /// Hex SHA-256 of the request without its personal data.
    pub request_hash: String,
    /// Keyed digests of its personal data, `{key_id}:{hex}`, one under each key the server
    /// holds, the active key's first; empty for a request without personal data.
    pub personal_data_digests: Vec<String>,
}

impl RequestFingerprint {
    /// A request without personal data, known by its hash.
    pub fn of_hash(request_hash: String) -> RequestFingerprint {
        RequestFingerprint {
            request_hash,
            personal_data_digests: Vec::new(),
        }
    }

    /// The digest to store beside the hash: the active key's.
    pub fn stored_digest(&self) -> Option<&str> {
        self.personal_data_digests.first().map(String::as_str)
    }

    /// Refuses a retry that is not this request: another hash, or personal data whose digest
    /// (under the key named in the stored one) differs. A stored digest under a key this server
    /// no longer holds cannot be checked, and is refused the same way. A record from before
    /// digests were kept (none stored) is judged by its hash alone.
    pub fn check_same(
        &self,
        request_id: &str,
        request_hash: &str,
        personal_data_digest: Option<&str>,
    ) -> Result<()> {
        let same_data = match personal_data_digest {
            None => true,
            Some(stored) => self
                .personal_data_digests
                .iter()
                .any(|digest| digest == stored),
        };
        if request_hash == self.request_hash && same_data {
            Ok(())
        } else {
            Err(Error::precondition(
                "REQUEST_ID_REUSED",
                format!("request_id {request_id}"),
                "this request_id was already used for a different request; use a new request_id",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referral(digests: &[&str]) -> RequestFingerprint {
        RequestFingerprint {
            request_hash: "h".into(),
            personal_data_digests: digests.iter().map(|digest| digest.to_string()).collect(),
        }
    }

    #[test]
    fn a_retry_is_the_same_request_only_with_the_same_hash_and_the_same_personal_data() {
        let retry = referral(&["k2:aa", "k1:bb"]);
        assert!(retry.check_same("r", "h", Some("k2:aa")).is_ok());
        assert!(
            retry.check_same("r", "h", Some("k1:bb")).is_ok(),
            "first taken under k1"
        );
        assert!(retry.check_same("r", "h", None).is_ok(), "an old record");
        for (hash, digest) in [
            ("h", Some("k2:cc")),
            ("h", Some("k3:aa")),
            ("x", Some("k2:aa")),
        ] {
            let refused = retry.check_same("r", hash, digest).unwrap_err();
            assert_eq!(refused.reason(), "REQUEST_ID_REUSED", "{hash} {digest:?}");
        }
        assert_eq!(retry.stored_digest(), Some("k2:aa"));
        assert_eq!(
            RequestFingerprint::of_hash("h".into()).stored_digest(),
            None
        );
    }
}
