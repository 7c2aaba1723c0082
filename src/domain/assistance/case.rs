//! A case and its referral as stored: the states of the case machine, the
//! victim's pseudonymous profile, the needs and their money. The rules kept
//! here: the final states take no more changes, and the referral changes only
//! before the decision (the referrer's while REFERRED, staff's until decided).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::personal::PersonalField;
use crate::domain::access::Actor;
use crate::domain::money::Cents;
use crate::domain::names::AssistanceCaseName;
use crate::domain::version::Stamps;
use crate::error::{Error, Result};

code_enum! {
    /// Where a case stands.
    pub enum CaseState {
        Referred => "REFERRED",
        UnderReview => "UNDER_REVIEW",
        Approved => "APPROVED",
        Denied => "DENIED",
        Withdrawn => "WITHDRAWN",
        Closed => "CLOSED",
    }
}

code_enum! {
    /// How fast the victim needs help.
    pub enum CaseUrgency {
        Critical => "CRITICAL",
        High => "HIGH",
        Normal => "NORMAL",
    }
}

code_enum! {
    /// The victim's sex, as recorded by the referrer.
    pub enum VictimSex {
        Female => "FEMALE",
        Male => "MALE",
        Other => "OTHER",
    }
}

code_enum! {
    /// Child or adult.
    pub enum AgeGroup {
        Child => "CHILD",
        Adult => "ADULT",
    }
}

code_enum! {
    /// The form of trafficking.
    pub enum TraffickingForm {
        Sex => "SEX",
        Labour => "LABOUR",
        Both => "BOTH",
        Other => "OTHER",
    }
}

code_enum! {
    /// What a need is for.
    pub enum NeedKind {
        Medical => "MEDICAL",
        Food => "FOOD",
        Shelter => "SHELTER",
        ReturnTravel => "RETURN_TRAVEL",
        Reintegration => "REINTEGRATION",
        Legal => "LEGAL",
        Other => "OTHER",
    }
}

impl CaseState {
    /// Denied, withdrawn and closed cases take no more changes.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseState::Denied | CaseState::Withdrawn | CaseState::Closed
        )
    }

    /// The states of a case still waiting for its decision (approve or deny): the
    /// machine's answer to "which cases are undecided" (the store's filter asks it).
    pub const UNDECIDED: &'static [CaseState] = &[CaseState::Referred, CaseState::UnderReview];

    /// Whether the case still waits for its decision.
    pub fn is_undecided(self) -> bool {
        CaseState::UNDECIDED.contains(&self)
    }
}

/// Most needs one case may carry.
pub const MAX_NEEDS: usize = 20;
/// Longest description of a need, reason or outcome.
pub const MAX_NOTE: usize = 2000;
/// How far ahead of the server's clock a client's time may be (clock skew).
pub(super) const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The pseudonymous profile of a victim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VictimProfile {
    pub sex: VictimSex,
    pub age_group: AgeGroup,
    /// ISO 3166-1 alpha-2.
    pub nationality: String,
    pub trafficking_form: TraffickingForm,
}

/// One need of a case and its money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Need {
    /// 1, 2, 3, ... in the order given.
    pub number: i32,
    pub kind: NeedKind,
    pub description: String,
    pub requested: Cents,
    pub approved: Cents,
    pub paid: Cents,
}

impl Need {
    /// What may still be paid for this need.
    pub fn remaining(&self) -> Cents {
        Cents(self.approved.0.saturating_sub(self.paid.0))
    }
}

/// What a referral says, checked (everything but the personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referral {
    pub referring_organization_id: String,
    pub country_code: String,
    pub victim: VictimProfile,
    pub urgency: CaseUrgency,
    pub consent_to_services: bool,
    pub consent_to_statistics: bool,
    pub needs: Vec<Need>,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssistanceCase {
    pub id: String,
    pub case_number: String,
    pub fiscal_year: i32,
    /// What the referral said, as changed before the decision.
    #[serde(flatten)]
    pub referral: Referral,
    pub state: CaseState,
    pub referral_time: DateTime<Utc>,
    pub decision_time: Option<DateTime<Utc>>,
    pub first_payment_time: Option<DateTime<Utc>>,
    pub close_time: Option<DateTime<Utc>>,
    pub state_reason: String,
    pub outcome: String,
    #[serde(flatten)]
    pub handlers: CaseHandlers,
    /// Which personal-data fields the case holds (never their values).
    pub personal_data_fields: Vec<PersonalField>,
    #[serde(flatten)]
    pub stamps: Stamps,
}

audited!(Referral => referring_organization_id, country_code, victim, urgency,
    consent_to_services, consent_to_statistics, needs);
// The personal data itself is not a field of the case: only the names of the fields it holds.
audited!(AssistanceCase => case_number, fiscal_year, state, referral_time, decision_time,
    first_payment_time, close_time, state_reason, outcome, personal_data_fields;
    with referral, handlers);

/// Who handled a case: each token (`apiTokens/{id}`; empty until set) beside the person who owns
/// it, for four eyes and the audit (empty until set, and for a token the server does not know: a
/// case of the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaseHandlers {
    pub referrer: String,
    pub referrer_owner: String,
    pub reviewer: String,
    pub reviewer_owner: String,
    pub decider: String,
    pub decider_owner: String,
}

audited!(CaseHandlers => referrer, referrer_owner, reviewer, reviewer_owner, decider,
    decider_owner);

impl AssistanceCase {
    /// A case as a referral opens it: referred by `referrer` (its token and owner), nothing
    /// decided, paid or closed yet, and no personal data until the caller records its fields.
    pub fn referred(
        id: String,
        case_number: String,
        fiscal_year: i32,
        referral: Referral,
        referral_time: DateTime<Utc>,
        referrer: (String, String),
        stamps: Stamps,
    ) -> AssistanceCase {
        let (referrer, referrer_owner) = referrer;
        AssistanceCase {
            id,
            case_number,
            fiscal_year,
            referral,
            state: CaseState::Referred,
            referral_time,
            decision_time: None,
            first_payment_time: None,
            close_time: None,
            state_reason: String::new(),
            outcome: String::new(),
            handlers: CaseHandlers {
                referrer,
                referrer_owner,
                ..CaseHandlers::default()
            },
            personal_data_fields: Vec::new(),
            stamps,
        }
    }

    pub fn name(&self) -> AssistanceCaseName {
        AssistanceCaseName::new(&self.id)
    }

    pub fn resource_name(&self) -> String {
        self.name().to_string()
    }

    /// Sum of the needs' requested amounts (each bounded, so the sum fits).
    pub fn requested(&self) -> Cents {
        sum(self.referral.needs.iter().map(|need| need.requested))
    }

    /// Sum of the needs' approved amounts.
    pub fn approved(&self) -> Cents {
        sum(self.referral.needs.iter().map(|need| need.approved))
    }

    /// Sum of the needs' paid amounts.
    pub fn paid(&self) -> Cents {
        sum(self.referral.needs.iter().map(|need| need.paid))
    }

    /// What an approved case still holds committed and unpaid.
    pub fn unpaid(&self) -> Cents {
        sum(self.referral.needs.iter().map(Need::remaining))
    }

    /// The case as changed by `referral` (an update before the decision).
    /// The referring organisation stays the one that referred the case.
    pub fn with_referral(&self, referral: Referral) -> AssistanceCase {
        AssistanceCase {
            referral: Referral {
                referring_organization_id: self.referral.referring_organization_id.clone(),
                ..referral
            },
            ..self.clone()
        }
    }

    pub(super) fn refuse_final(&self, what: &str) -> Error {
        Error::precondition(
            "ASSISTANCE_CASE_CLOSED",
            self.resource_name(),
            format!(
                "the case is {}: it takes no more changes ({what} refused)",
                self.state
            ),
        )
    }

    /// Whether `actor` may change the referral: staff until the decision, the referrer only while REFERRED.
    pub fn check_updatable(&self, actor: &Actor) -> Result<()> {
        if self.state.is_final() {
            return Err(self.refuse_final("update"));
        }
        match self.state {
            CaseState::Referred => Ok(()),
            CaseState::UnderReview if actor.role != crate::domain::access::Role::Grantee => Ok(()),
            CaseState::UnderReview => Err(Error::precondition(
                "ASSISTANCE_CASE_UNDER_REVIEW",
                self.resource_name(),
                "the case is under review: only case workers change it now",
            )),
            _ => Err(Error::precondition(
                "ASSISTANCE_CASE_DECIDED",
                self.resource_name(),
                format!(
                    "the case is {}: its referral no longer changes (withdraw or close it instead)",
                    self.state
                ),
            )),
        }
    }
}

fn sum(amounts: impl Iterator<Item = Cents>) -> Cents {
    Cents(amounts.fold(0i64, |total, amount| total.saturating_add(amount.0)))
}

/// The time before which a CRITICAL case still undecided is late.
pub fn critical_cutoff(now: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
    now - Duration::hours(i64::from(hours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assistance::testing::case;

    #[test]
    fn a_case_is_audited_flat_with_its_referral_and_without_personal_data() {
        use crate::domain::audit::Audited;
        let view = case(CaseState::Referred).audit_view().unwrap();
        let keys: Vec<&str> = view
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "case_number",
            "fiscal_year",
            "referring_organization_id",
            "country_code",
            "victim",
            "urgency",
            "consent_to_services",
            "consent_to_statistics",
            "needs",
            "state",
            "referral_time",
            "decision_time",
            "first_payment_time",
            "close_time",
            "state_reason",
            "outcome",
            "referrer",
            "reviewer",
            "decider",
            "referrer_owner",
            "reviewer_owner",
            "decider_owner",
            "personal_data_fields",
        ];
        let mut keys = keys;
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(view["country_code"], "HT");
    }
}
