//! Plain Rust: the office's concepts and rules (names, money, fiscal year,
//! state machines, validation). No tonic and no SeaORM here: `api` turns
//! requests into these types, `store` persists them.

/// An enum stored and filtered by a stable upper-case code (e.g. `ACTIVE`),
/// serialised with the same code in audit diffs and revisions. Written as the
/// enum it declares, so that `grep 'enum GrantState'` finds it:
/// `code_enum! { pub enum GrantState { Draft => "DRAFT", ... } }`.
macro_rules! code_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$variant_meta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }

            /// The value of a stored code.
            pub fn from_code(code: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|value| value.code() == code)
            }
        }

        impl $crate::domain::CodeEnum for $name {
            const ALL: &'static [$name] = $name::ALL;

            fn code(self) -> &'static str {
                $name::code(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.code())
            }
        }
    };
}

/// An enum with a stable code per value (what `code_enum!` declares): the
/// store, the api's proto conversions and filters use it generically.
pub trait CodeEnum: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Every value.
    const ALL: &'static [Self];

    /// The stored code, e.g. `ACTIVE`.
    fn code(self) -> &'static str;

    /// The value of a code.
    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.code() == code)
    }
}

/// Implements [`audit::Audited`] from an explicit list of fields:
/// `audited!(OrganizationFields => display_name, kind, country_code, identifiers)`.
/// A field left out never reaches the append-only log.
macro_rules! audited {
    ($type:ty => $($field:ident),+ $(; with $($inner:ident),+)? $(,)?) => {
        impl $crate::domain::audit::Audited for $type {
            fn audit_view(&self) -> $crate::error::Result<serde_json::Value> {
                let mut view = serde_json::Map::new();
                $(view.insert(
                    stringify!($field).to_string(),
                    $crate::domain::audit::to_json(&self.$field)?,
                );)+
                $($(
                    if let serde_json::Value::Object(inner) =
                        $crate::domain::audit::Audited::audit_view(&self.$inner)?
                    {
                        view.extend(inner);
                    }
                )+)?
                Ok(serde_json::Value::Object(view))
            }
        }
    };
}

/// Implements [`version::Versioned`] from a record's `stamps` and
/// `delete_time` fields and its `resource_name()`, in the record's own file:
/// `versioned!(Indicator => "the indicator");`; a record that is never deleted (it has no
/// `delete_time`) says so: `versioned!(PaymentRequest => "the payment request", never deleted);`.
macro_rules! versioned {
    ($record:ty => $what:literal, never deleted) => {
        impl $crate::domain::version::Versioned for $record {
            const WHAT: &'static str = $what;

            fn resource(&self) -> String {
                self.resource_name()
            }

            fn revision(&self) -> i64 {
                self.stamps.revision
            }

            fn delete_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
                None
            }
        }
    };
    ($record:ty => $what:literal) => {
        impl $crate::domain::version::Versioned for $record {
            const WHAT: &'static str = $what;

            fn resource(&self) -> String {
                self.resource_name()
            }

            fn revision(&self) -> i64 {
                self.stamps.revision
            }

            fn delete_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
                self.delete_time
            }
        }
    };
}

pub mod access;
pub mod amendment;
pub mod assistance;
pub mod audit;
pub mod budget;
pub mod case_statistics;
pub mod closeout;
pub mod financial_report;
pub mod fiscal_year;
pub mod funds;
pub mod grant;
pub mod htcds;
pub mod iati;
pub mod idempotency;
pub mod milestone;
pub mod money;
pub mod names;
pub mod organization;
pub mod outcome;
pub mod outcome_report;
pub mod payment;
pub mod pillar;
pub mod project;
pub mod reference;
pub mod report;
pub mod spending;
pub mod statistics;
pub mod tip_report;
pub mod validate;
pub mod version;

pub use validate::Violations;

/// Checks a state machine in a unit test: each row of `allowed` is a
/// transition, the states it may start from and the state it leads to;
/// `target(transition, from)` is that state from each listed state and
/// `None` from every other state.
#[cfg(test)]
pub(crate) fn assert_exact_transitions<T, S>(
    target: impl Fn(T, S) -> Option<S>,
    allowed: &[(T, &[S], S)],
) where
    T: Copy + PartialEq + std::fmt::Debug,
    S: CodeEnum,
{
    for &(transition, _, _) in allowed {
        for &from in S::ALL {
            let expected = allowed
                .iter()
                .find(|(t, starts, _)| *t == transition && starts.contains(&from))
                .map(|&(_, _, to)| to);
            assert_eq!(
                target(transition, from),
                expected,
                "{transition:?} from {from:?}"
            );
        }
    }
}
