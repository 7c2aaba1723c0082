//! The "3P" paradigm plus partnership: the pillars programs pursue and TIP
//! Report recommendations address.

code_enum! {
    /// One pillar.
    pub enum Pillar {
        Prosecution => "PROSECUTION",
        Protection => "PROTECTION",
        Prevention => "PREVENTION",
        Partnership => "PARTNERSHIP",
    }
}
