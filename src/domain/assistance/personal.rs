//! A victim's personal data as the domain knows it: which fields there are,
//! their values checked as they come in (each a secret), and what the store
//! keeps of them once sealed. Sealing and opening are `crate::privacy`'s: a
//! case carries only the names of the fields it holds.

use crate::domain::validate::{self, Violations};
use crate::error::{FieldViolation, Result};
use crate::secret::SecretString;

code_enum! {
    /// The fields of a victim's personal data (each sealed on its own).
    pub enum PersonalField {
        FullName => "full_name",
        Contact => "contact",
        Notes => "notes",
    }
}

impl PersonalField {
    /// The longest value of the field.
    pub fn max_length(self) -> usize {
        match self {
            PersonalField::FullName => 200,
            PersonalField::Contact => 500,
            PersonalField::Notes => validate::MAX_TEXT,
        }
    }
}

/// A victim's personal data, checked: the fields given, each a secret.
#[derive(Debug, Default)]
pub struct PersonalData {
    pub values: Vec<(PersonalField, SecretString)>,
}

impl PersonalData {
    /// The fields it holds, in declaration order.
    pub fn fields(&self) -> Vec<PersonalField> {
        let mut fields: Vec<PersonalField> = self.values.iter().map(|(field, _)| *field).collect();
        fields.sort();
        fields
    }

    /// Sets (or, with an empty value, removes) one field.
    pub fn set(&mut self, field: PersonalField, value: Option<SecretString>) {
        self.values.retain(|(present, _)| *present != field);
        if let Some(value) = value {
            self.values.push((field, value));
        }
    }
}

/// One personal-data field as it came in: trimmed, bounded, `None` when empty. The error never repeats the value.
pub fn personal_value(
    prefix: &str,
    field: PersonalField,
    value: &str,
) -> std::result::Result<Option<SecretString>, FieldViolation> {
    let checked = validate::optional_text(
        &format!("{prefix}.{}", field.code()),
        value,
        field.max_length(),
    )?;
    Ok((!checked.is_empty()).then(|| SecretString::from(checked)))
}

/// Personal data as it came in (`full_name`, `contact`, `notes`), checked all at once.
pub fn personal_data(prefix: &str, values: [(PersonalField, &str); 3]) -> Result<PersonalData> {
    let mut violations = Violations::new();
    let mut data = PersonalData::default();
    for (field, value) in values {
        if let Some(Some(value)) = violations.check(personal_value(prefix, field, value)) {
            data.values.push((field, value));
        }
    }
    violations.finish()?;
    Ok(data)
}

/// A case's personal data as stored: each present field sealed, and the key that sealed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedPersonalData {
    pub key_id: Option<String>,
    pub values: Vec<(PersonalField, String)>,
}
