//! Keyed digests of a victim's personal data, for the idempotency record of
//! a referral: a retry under the same `request_id` with other personal data
//! must be told from a true retry, yet neither the data nor a plain hash of
//! it may be stored (a plain hash of a name is found by hashing guesses).
//! HMAC-SHA-256 (RustCrypto's `hmac`) under a key derived from each privacy
//! key (the HMAC of a fixed label, so the digest key never seals anything),
//! written `{key_id}:{hex}` so a retry after a rotation is checked under the
//! key that digested the first request.

use hmac::Mac;

use super::{Keyring, keyed_mac};
use crate::domain::assistance::{PersonalData, PersonalField};
use crate::error::Result;
use crate::secret::ExposeSecret;

/// What the digest key of a privacy key is derived for (domain separation).
const DIGEST_KEY_LABEL: &[u8] = b"tipgrants v1: idempotency digest of personal data";

impl Keyring {
    /// The keyed digests of `data` under every key held, the active key's first, each
    /// `{key_id}:{hex}`. Every field is digested, present or not, so removing one is a change.
    pub fn personal_data_digests(&self, data: &PersonalData) -> Result<Vec<String>> {
        let active = self.require_active()?;
        let mut keys: Vec<_> = self.keys.iter().collect();
        keys.sort_by_key(|(id, _)| id != active);
        let mut digests = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            let mut derivation = keyed_mac(key.expose_secret())?;
            derivation.update(DIGEST_KEY_LABEL);
            let mut mac = keyed_mac(&derivation.finalize().into_bytes())?;
            for field in PersonalField::ALL {
                mac.update(field.code().as_bytes());
                let value = data.values.iter().find(|(present, _)| present == field);
                match value {
                    None => mac.update(&[0]),
                    Some((_, value)) => {
                        let bytes = value.expose_secret().as_bytes();
                        mac.update(&[1]);
                        mac.update(&(bytes.len() as u64).to_be_bytes());
                        mac.update(bytes);
                    }
                }
            }
            digests.push(format!("{id}:{}", hex::encode(mac.finalize().into_bytes())));
        }
        Ok(digests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::generate_key;
    use crate::secret::SecretString;

    fn data(values: &[(PersonalField, &str)]) -> PersonalData {
        PersonalData {
            values: values
                .iter()
                .map(|(field, value)| (*field, SecretString::from(value.to_string())))
                .collect(),
        }
    }

    #[test]
    fn digests_tell_personal_data_apart_show_none_of_it_and_depend_on_the_key() {
        let (k1, k2) = (generate_key("k1").unwrap(), generate_key("k2").unwrap());
        let both = format!("{},{}", k1.expose_secret(), k2.expose_secret());
        let ring = Keyring::parse(&SecretString::from(both), "k2").unwrap();
        let only_k1 = Keyring::parse(&SecretString::from(k1.expose_secret()), "").unwrap();
        let name = data(&[(PersonalField::FullName, "Ana Pérez")]);

        let digests = ring.personal_data_digests(&name).unwrap();

        assert_eq!(digests.len(), 2);
        assert!(digests[0].starts_with("k2:") && digests[1].starts_with("k1:"));
        assert_eq!(
            only_k1.personal_data_digests(&name).unwrap(),
            [digests[1].clone()]
        );
        assert!(!digests.iter().any(|digest| digest.contains("Ana")));
        let plain = hex::encode(<sha2::Sha256 as sha2::Digest>::digest("Ana Pérez"));
        assert!(!digests.iter().any(|digest| digest.contains(&plain)));
        for other in [
            data(&[(PersonalField::FullName, "Ana Perez")]),
            data(&[(PersonalField::Notes, "Ana Pérez")]),
            data(&[]),
            data(&[
                (PersonalField::FullName, "Ana Pérez"),
                (PersonalField::Contact, ""),
            ]),
        ] {
            assert_ne!(ring.personal_data_digests(&other).unwrap(), digests);
        }
    }
}
