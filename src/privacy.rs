//! Victims' personal data, sealed in the application before it reaches the
//! database: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), a random
//! 24-byte nonce per value, and the case id and field name bound in as
//! associated data, so a value copied to another case or field no longer
//! opens. A stored value reads `{key_id}:{base64 nonce}:{base64 ciphertext}`.
//!
//! Keys come from settings (`privacy.keys`, a secret) as `id:base64` entries;
//! `privacy.active_key` seals, every key opens. A key id is bound to its key
//! for good: the database keeps a fingerprint per key id (an HMAC-SHA-256 of a
//! fixed label under the key), and the server and `tipgrants keys rotate`
//! refuse to run with other material under a known id ([`check_keys`]).
//! Rotation: add a new key and make it active, then `tipgrants keys rotate`
//! re-seals the values under older keys in small batches, each in its own
//! transaction (tried again after a pause when the database is busy), while
//! the server runs, and then rewrites the database's files without the old
//! values. Key material and plaintext never reach a log, an error or an audit
//! event: errors name key ids, cases and fields only.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::Mac;
use rand::{Rng, RngCore};

use crate::domain::access::Actor;
use crate::domain::assistance::PersonalField;
use crate::domain::names::AssistanceCaseName;
use crate::error::{Error, Result};
use crate::secret::{ExposeSecret, SecretBox, SecretString};
use crate::settings::{PrivacySettings, SettingsError};
use crate::store::{CallContext, Store};

mod digest;
mod sealing;

/// Bytes of a key (256 bits).
pub const KEY_BYTES: usize = 32;
/// Bytes of a nonce (XChaCha20's 192 bits: random nonces never collide in practice).
const NONCE_BYTES: usize = 24;
/// Longest key id.
const MAX_KEY_ID: usize = 32;
/// What a key's fingerprint is the HMAC-SHA-256 of, under the key. A fixed label, used for
/// nothing else: the fingerprint says which key an id names without being the key, a hash of
/// it, or anything a value is sealed with.
const FINGERPRINT_LABEL: &[u8] = b"tipgrants privacy key fingerprint v1";

/// HMAC-SHA-256 under `key`: the one keyed hash of this module (key fingerprints, and the
/// digests of personal data in `digest`).
fn keyed_mac(key: &[u8]) -> Result<hmac::Hmac<sha2::Sha256>> {
    <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key)
        .map_err(|_| Error::Internal("an HMAC key was refused".into()))
}
/// How many stored values a key new to the fingerprints is tried on (one that opens is enough:
/// a wrong key fails Poly1305's authentication but for a chance of 2^-128).
const VALUES_TRIED: u64 = 3;

/// The keys that seal and open personal data.
pub struct Keyring {
    keys: Vec<(String, SecretBox<[u8; KEY_BYTES]>)>,
    active: Option<String>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .field("active", &self.active)
            .finish()
    }
}

/// Whether `id` can name a key: 1 to 32 letters, digits, `-` or `_`.
fn is_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Keyring {
    /// No keys: nothing can be sealed or opened.
    pub fn empty() -> Keyring {
        Keyring {
            keys: Vec::new(),
            active: None,
        }
    }

    /// The keys of the `[privacy]` settings; the error names the setting (`privacy.keys`),
    /// never a key. The server and the commands that use the database refuse to start without.
    pub fn from_settings(
        settings: &PrivacySettings,
    ) -> std::result::Result<Keyring, SettingsError> {
        Keyring::parse(&settings.keys, &settings.active_key)
            .map_err(|message| SettingsError::invalid("privacy.keys", message))
    }

    /// Reads `keys` (`id:base64,id:base64`) and the active key's id. An empty `active` is
    /// allowed with exactly one key, which is then the active one. The error names the entry
    /// and its id, never the key material.
    pub fn parse(keys: &SecretString, active: &str) -> std::result::Result<Keyring, String> {
        let mut parsed: Vec<(String, SecretBox<[u8; KEY_BYTES]>)> = Vec::new();
        let entries = keys
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let Some((id, material)) = entry.split_once(':') else {
                return Err(format!(
                    "entry {position} is not `id:base64-key` (a key from `tipgrants keys generate`)"
                ));
            };
            let id = id.trim();
            if !is_key_id(id) {
                return Err(format!(
                    "entry {position}: the key id must be 1 to {MAX_KEY_ID} letters, digits, '-' or '_'"
                ));
            }
            if parsed.iter().any(|(known, _)| known == id) {
                return Err(format!("key id {id:?} appears more than once"));
            }
            let mut bytes = Box::new([0u8; KEY_BYTES]);
            match STANDARD.decode(material.trim()) {
                Ok(decoded) if decoded.len() == KEY_BYTES => {
                    bytes.copy_from_slice(&decoded);
                    let mut decoded = decoded;
                    decoded.fill(0);
                }
                _ => {
                    return Err(format!(
                        "key {id:?} is not {KEY_BYTES} bytes in standard base64 (make one with `tipgrants keys generate`)"
                    ));
                }
            }
            parsed.push((id.to_string(), SecretBox::new(bytes)));
        }
        let active = active.trim();
        let active = match (parsed.len(), active) {
            (0, "") => None,
            (0, _) => return Err("privacy.active_key names a key but privacy.keys is empty".into()),
            (1, "") => parsed.first().map(|(id, _)| id.clone()),
            (_, "") => {
                return Err(
                    "privacy.active_key is required with more than one key: the id of the key that seals new values"
                        .into(),
                );
            }
            (_, id) if parsed.iter().any(|(known, _)| known == id) => Some(id.to_string()),
            (_, id) => {
                return Err(format!(
                    "privacy.active_key {id:?} is not one of the ids in privacy.keys"
                ));
            }
        };
        Ok(Keyring {
            keys: parsed,
            active,
        })
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the keys, in the order configured.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> Option<&str> {
        self.active.as_deref()
    }

    /// Whether a key of this id is configured.
    pub fn knows(&self, id: &str) -> bool {
        self.keys.iter().any(|(known, _)| known == id)
    }

    /// The fingerprint of key `id` (hex HMAC-SHA-256 of a fixed label under the key), when
    /// configured. It shows which key an id names and cannot be turned back into the key: an
    /// HMAC hides its key, and a 256-bit random key is beyond any search a fingerprint could
    /// check guesses against.
    pub fn fingerprint(&self, id: &str) -> Option<String> {
        let (_, key) = self.keys.iter().find(|(known, _)| known == id)?;
        let mut mac = keyed_mac(key.expose_secret()).ok()?;
        mac.update(FINGERPRINT_LABEL);
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    fn cipher(&self, id: &str) -> Option<XChaCha20Poly1305> {
        self.keys
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, key)| XChaCha20Poly1305::new(key.expose_secret().into()))
    }

    /// Refuses when no key can seal (a case cannot be taken without one: the server would not
    /// start again with cases and no key).
    pub fn require_active(&self) -> Result<&str> {
        self.active_id().ok_or_else(|| {
            Error::precondition(
                "PRIVACY_KEY_MISSING",
                "privacy.keys",
                "no encryption key for victims' personal data is configured on this server: an administrator sets privacy.keys and privacy.active_key (see docs/security.md)",
            )
        })
    }

    /// Seals one value of `field` of `case_id` with the active key.
    pub fn seal(
        &self,
        case_id: &str,
        field: PersonalField,
        value: &SecretString,
    ) -> Result<String> {
        let id = self.require_active()?;
        let cipher = self
            .cipher(id)
            .ok_or_else(|| Error::Internal("the active key is not in the keyring".into()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(case_id, field);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal(format!("sealing {} of a case failed", field.code())))?;
        Ok(format!(
            "{id}:{}:{}",
            STANDARD.encode(nonce),
            STANDARD.encode(sealed)
        ))
    }

    /// Opens one stored value of `field` of `case_id`.
    pub fn open(&self, case_id: &str, field: PersonalField, stored: &str) -> Result<SecretString> {
        let case = AssistanceCaseName::new(case_id).to_string();
        let corrupt = || {
            Error::Internal(format!(
                "{} of {case} does not open: the stored value was changed or belongs to another case or field",
                field.code()
            ))
        };
        let mut parts = stored.splitn(3, ':');
        let (Some(id), Some(nonce), Some(sealed)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt());
        };
        let cipher = self.cipher(id).ok_or_else(|| {
            Error::precondition(
                "PRIVACY_KEY_UNKNOWN",
                case.clone(),
                format!(
                    "the personal data of this case is sealed with key {id:?}, which this server does not hold: add it to privacy.keys"
                ),
            )
        })?;
        let nonce = STANDARD.decode(nonce).map_err(|_| corrupt())?;
        let sealed = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if nonce.len() != NONCE_BYTES {
            return Err(corrupt());
        }
        let aad = associated_data(case_id, field);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| corrupt())
    }
}

/// What a sealed value is bound to: its case and its field.
fn associated_data(case_id: &str, field: PersonalField) -> String {
    format!("{}#{}", AssistanceCaseName::new(case_id), field.code())
}

/// The key id of a stored value.
pub fn key_id_of(stored: &str) -> Option<&str> {
    stored.split_once(':').map(|(id, _)| id)
}

/// A fresh key entry `id:base64` for `privacy.keys` (`tipgrants keys generate`).
pub fn generate_key(id: &str) -> std::result::Result<SecretString, String> {
    if !is_key_id(id) {
        return Err(format!(
            "--id: 1 to {MAX_KEY_ID} letters, digits, '-' or '_'"
        ));
    }
    let mut bytes = SecretBox::new(Box::new([0u8; KEY_BYTES]));
    rand::rng().fill_bytes(secrecy::ExposeSecretMut::expose_secret_mut(&mut bytes));
    Ok(SecretString::from(format!(
        "{id}:{}",
        STANDARD.encode(bytes.expose_secret())
    )))
}

/// Refuses to run (the server, `keys rotate`, `seed-demo`) with personal data the keyring cannot
/// open, with cases and no key at all, or with a key that is not the one its id named before:
/// the one-line reason. Each key id is checked against the fingerprint recorded for it; an id
/// without one (new, or from before fingerprints were kept) must open values it sealed, if
/// any, and then has its fingerprint recorded (audited, as `method`). The reason names key
/// ids, never a key.
pub async fn check_keys(
    store: &Store,
    keyring: &Keyring,
    method: &str,
) -> std::result::Result<(), String> {
    let facts = store
        .personal_data_keys_in_use()
        .await
        .map_err(|error| format!("cannot read the assistance cases: {error}"))?;
    if facts.cases > 0 && keyring.is_empty() {
        return Err(format!(
            "{} assistance case(s) exist but no encryption key for victims' personal data is configured: set privacy.keys and privacy.active_key (TIPGRANTS__PRIVACY__KEYS, TIPGRANTS__PRIVACY__ACTIVE_KEY)",
            facts.cases
        ));
    }
    let unknown: Vec<&str> = facts
        .key_ids
        .iter()
        .map(String::as_str)
        .filter(|id| !keyring.knows(id))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "victims' personal data is sealed with key id(s) {} that privacy.keys does not hold: add them (keep old keys until `tipgrants keys rotate` has re-sealed their values)",
            unknown.join(", ")
        ));
    }
    let recorded = store
        .privacy_key_fingerprints()
        .await
        .map_err(|error| format!("cannot read the key fingerprints: {error}"))?;
    let other_key = |id: &str| {
        format!(
            "privacy.keys gives key id {id:?} another key than the one {id:?} names in this database (its fingerprint differs): values sealed with {id:?} would not open, and new ones would be sealed with a key nothing else opens. Give {id:?} its own key again; a new key takes a new id (`tipgrants keys generate --id ...`)"
        )
    };
    for id in keyring.key_ids() {
        let Some(fingerprint) = keyring.fingerprint(id) else {
            continue;
        };
        match recorded.get(id) {
            Some(known) if *known == fingerprint => continue,
            Some(_) => return Err(other_key(id)),
            None => {}
        }
        let sealed = store
            .personal_data_sealed_with(id, VALUES_TRIED)
            .await
            .map_err(|error| format!("cannot read the assistance cases: {error}"))?;
        let opens = sealed.iter().any(|case| {
            case.values
                .iter()
                .all(|(field, stored)| keyring.open(&case.case_id, *field, stored).is_ok())
        });
        if !sealed.is_empty() && !opens {
            return Err(format!(
                "privacy.keys gives key id {id:?} a key that does not open the values sealed with {id:?} in this database ({} case(s) tried): give {id:?} the key that sealed them",
                sealed.len()
            ));
        }
        let recorded_now = record_fingerprint(store, id, &fingerprint, method)
            .await
            .map_err(|error| format!("cannot record the fingerprint of key {id:?}: {error}"))?;
        if recorded_now != fingerprint {
            return Err(other_key(id));
        }
    }
    Ok(())
}

/// Records the fingerprint of key `id` unless it has one; the fingerprint it has now.
async fn record_fingerprint(
    store: &Store,
    id: &str,
    fingerprint: &str,
    method: &str,
) -> Result<String> {
    let call = CallContext {
        actor: Actor::system(),
        method: method.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let mut tx = store.begin(&call).await?;
    let recorded = tx.record_privacy_key(id, fingerprint).await?;
    tx.commit().await?;
    Ok(recorded)
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Cases whose personal data was re-sealed with the active key.
    pub cases: u64,
    /// Transactions (batches) it took.
    pub batches: u64,
    /// Batches tried again after the database was busy or rolled them back.
    pub retries: u64,
}

/// The method of the rotation's audit events.
pub const ROTATE_METHOD: &str = "cli keys rotate";
/// The tables whose replaced rows held personal data, rewritten once a rotation is done.
const SEALED_TABLES: [&str; 1] = ["assistance_cases"];
/// How many times one batch is tried before the rotation gives up.
const BATCH_ATTEMPTS: u32 = 10;
/// The first pause before a batch is tried again; it doubles (with jitter) up to `LONGEST_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// Re-seals, with the active key, the personal data of every case sealed with another key,
/// `batch` cases per transaction (each case locked while it is re-sealed, so a server running
/// beside it never loses a change), then rewrites the database's files without the values
/// sealed before ([`Store::rewrite_without_replaced_rows`],
/// [`Store::empty_write_ahead_log`]). Each case gets an audit event naming the
/// keys, never a value. First checks the keys as start-up does. A batch the database was too
/// busy for, or rolled back in a conflict, is tried again after a growing pause.
pub async fn rotate(store: &Store, keyring: &Keyring, batch: u64) -> Result<Rotation> {
    let active = keyring.require_active()?.to_string();
    check_keys(store, keyring, ROTATE_METHOD)
        .await
        .map_err(|reason| Error::precondition("PRIVACY_KEYS_REFUSED", "privacy.keys", reason))?;
    let call = CallContext {
        actor: Actor::system(),
        method: ROTATE_METHOD.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let mut done = Rotation::default();
    loop {
        let resealed = retrying(&mut done.retries, || {
            reseal_batch(store, keyring, &call, &active, batch.max(1))
        })
        .await?;
        if resealed == 0 {
            break;
        }
        done.cases += resealed;
        done.batches += 1;
    }
    store.wait_for_older_transactions().await.map_err(|error| {
        Error::Busy(format!(
            "every value is re-sealed, but the database is not rewritten yet ({error}): run `tipgrants keys rotate` again when no long report runs; it only rewrites the files"
        ))
    })?;
    retrying(&mut done.retries, || {
        store.rewrite_without_replaced_rows(&SEALED_TABLES)
    })
    .await?;
    store.empty_write_ahead_log().await.map_err(|error| {
        Error::Busy(format!(
            "every value is re-sealed, but older copies of pages may still be in the write-ahead log ({error}): run `tipgrants keys rotate` again when no long report runs; it only rewrites the files"
        ))
    })?;
    Ok(done)
}

/// Re-seals up to `batch` cases in one transaction; how many.
async fn reseal_batch(
    store: &Store,
    keyring: &Keyring,
    call: &CallContext,
    active: &str,
    batch: u64,
) -> Result<u64> {
    let mut tx = store.begin(call).await?;
    let sealed = tx
        .personal_data_sealed_with_other_keys(active, batch)
        .await?;
    let count = sealed.len() as u64;
    for case in sealed {
        let mut values = Vec::with_capacity(case.values.len());
        for (field, stored) in &case.values {
            let plain = keyring.open(&case.case_id, *field, stored)?;
            values.push((*field, keyring.seal(&case.case_id, *field, &plain)?));
        }
        tx.reseal_personal_data(&case.case_id, case.key_id.as_deref(), active, values)
            .await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// Runs `attempt` until it succeeds, fails for good, or has failed transiently
/// `BATCH_ATTEMPTS` times; counts the retries.
async fn retrying<T>(retries: &mut u64, mut attempt: impl AsyncFnMut() -> Result<T>) -> Result<T> {
    let mut pause = FIRST_PAUSE;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if error.is_transient() && tries < BATCH_ATTEMPTS => {
                tracing::info!(%error, tries, "the database was busy; trying again");
                *retries += 1;
                tries += 1;
                let jitter = rand::rng().random_range(0..=pause.as_millis() as u64 / 2);
                tokio::time::sleep(pause + Duration::from_millis(jitter)).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(keys: &str, active: &str) -> Keyring {
        Keyring::parse(&SecretString::from(keys), active).expect("valid keys")
    }

    #[test]
    fn a_value_opens_only_for_its_own_case_and_field() {
        let key = generate_key("k1").unwrap();
        let ring = keyring(key.expose_secret(), "k1");
        let secret = SecretString::from("Ana Pérez");

        let sealed = ring
            .seal("case-1", PersonalField::FullName, &secret)
            .unwrap();

        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("Ana"));
        assert_eq!(
            ring.open("case-1", PersonalField::FullName, &sealed)
                .unwrap()
                .expose_secret(),
            "Ana Pérez"
        );
        assert!(
            ring.open("case-2", PersonalField::FullName, &sealed)
                .is_err()
        );
        assert!(ring.open("case-1", PersonalField::Notes, &sealed).is_err());
        let again = ring
            .seal("case-1", PersonalField::FullName, &secret)
            .unwrap();
        assert_ne!(sealed, again, "a fresh nonce per value");
    }

    #[test]
    fn a_new_key_seals_and_old_keys_still_open() {
        let (old, new) = (generate_key("k1").unwrap(), generate_key("k2").unwrap());
        let before = keyring(old.expose_secret(), "");
        let sealed = before
            .seal("c", PersonalField::Contact, &SecretString::from("+509 555"))
            .unwrap();
        let both = format!("{},{}", new.expose_secret(), old.expose_secret());

        let after = keyring(&both, "k2");

        assert_eq!(
            after
                .open("c", PersonalField::Contact, &sealed)
                .unwrap()
                .expose_secret(),
            "+509 555"
        );
        let resealed = after
            .seal("c", PersonalField::Contact, &SecretString::from("+509 555"))
            .unwrap();
        assert_eq!(key_id_of(&resealed), Some("k2"));
        assert_eq!(
            keyring(new.expose_secret(), "")
                .open("c", PersonalField::Contact, &sealed)
                .unwrap_err()
                .reason(),
            "PRIVACY_KEY_UNKNOWN"
        );
    }

    #[test]
    fn a_fingerprint_names_one_key_and_is_neither_the_key_nor_a_hash_of_it() {
        let (key, other) = (generate_key("k1").unwrap(), generate_key("k1").unwrap());
        let ring = keyring(key.expose_secret(), "");
        let material = STANDARD
            .decode(key.expose_secret().trim_start_matches("k1:"))
            .unwrap();

        let fingerprint = ring.fingerprint("k1").expect("k1 is configured");

        assert_eq!(fingerprint.len(), 64, "256 bits, in hex");
        assert_eq!(
            keyring(key.expose_secret(), "").fingerprint("k1"),
            Some(fingerprint.clone()),
            "the same key, the same fingerprint"
        );
        assert_ne!(
            keyring(other.expose_secret(), "").fingerprint("k1"),
            Some(fingerprint.clone()),
            "other material under the same id"
        );
        assert_eq!(ring.fingerprint("k2"), None);
        use sha2::Digest;
        assert_ne!(fingerprint, hex::encode(sha2::Sha256::digest(&material)));
        assert!(!fingerprint.contains(&hex::encode(&material[..8])));
    }

    #[test]
    fn bad_key_settings_are_refused_without_showing_the_key() {
        let material = "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LWlzLXNob3J0";
        for (keys, active) in [
            (format!("k1:{material}"), ""),
            (format!("k1{material}"), ""),
            ("k 1:AAAA".to_string(), ""),
            (
                format!(
                    "{},{}",
                    generate_key("a").unwrap().expose_secret(),
                    generate_key("b").unwrap().expose_secret()
                ),
                "",
            ),
            (generate_key("a").unwrap().expose_secret().to_string(), "b"),
            (String::new(), "a"),
        ] {
            let error = Keyring::parse(&SecretString::from(keys), active).unwrap_err();
            assert!(!error.contains(material), "{error}");
        }
        assert!(
            Keyring::parse(&SecretString::from(""), "")
                .unwrap()
                .is_empty()
        );
        let key = generate_key("k9").unwrap();
        let material = key.expose_secret().trim_start_matches("k9:").to_string();
        assert!(!format!("{:?}", keyring(key.expose_secret(), "")).contains(&material));
    }
}
