//! The "3P" paradigm plus partnership: the pillars programs pursue and TIP
//! Report recommendations address.

use serde::{Deserialize, Serialize};

/// One pillar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Pillar {
    Prosecution,
    Protection,
    Prevention,
    Partnership,
}

impl Pillar {
    pub const ALL: [Pillar; 4] = [
        Pillar::Prosecution,
        Pillar::Protection,
        Pillar::Prevention,
        Pillar::Partnership,
    ];

    /// The stored and filterable code, e.g. `PROTECTION`.
    pub fn code(self) -> &'static str {
        match self {
            Pillar::Prosecution => "PROSECUTION",
            Pillar::Protection => "PROTECTION",
            Pillar::Prevention => "PREVENTION",
            Pillar::Partnership => "PARTNERSHIP",
        }
    }

    /// Parses a code, with or without the proto prefix `PILLAR_`, any case.
    pub fn from_code(code: &str) -> Option<Pillar> {
        let code = code.trim().to_ascii_uppercase();
        let code = code.trim_start_matches("PILLAR_");
        Pillar::ALL.into_iter().find(|pillar| pillar.code() == code)
    }
}
