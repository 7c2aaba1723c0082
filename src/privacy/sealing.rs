//! A victim's whole personal data sealed and opened at once: every field with
//! the active key, bound to its case and field ([`Keyring::seal`],
//! [`Keyring::open`]). The api hands plaintext here and the store only ever
//! receives the result, so this module and its parent are the one place where
//! personal data turns into sealed values and back.

use super::Keyring;
use crate::domain::assistance::{PersonalData, SealedPersonalData};
use crate::error::Result;

impl Keyring {
    /// Seals every field of `data` for case `case_id` with the active key.
    pub fn seal_personal_data(
        &self,
        case_id: &str,
        data: &PersonalData,
    ) -> Result<SealedPersonalData> {
        let key_id = self.require_active()?.to_string();
        let mut values = Vec::with_capacity(data.values.len());
        for (field, value) in &data.values {
            values.push((*field, self.seal(case_id, *field, value)?));
        }
        values.sort_by_key(|(field, _)| *field);
        Ok(SealedPersonalData {
            key_id: Some(key_id),
            values,
        })
    }

    /// Opens every sealed field of case `case_id`.
    pub fn open_personal_data(
        &self,
        case_id: &str,
        sealed: &SealedPersonalData,
    ) -> Result<PersonalData> {
        let mut data = PersonalData::default();
        for (field, stored) in &sealed.values {
            data.set(*field, Some(self.open(case_id, *field, stored)?));
        }
        Ok(data)
    }
}
