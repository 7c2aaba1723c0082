//! Emergency victim-assistance cases and the fund they draw on. A partner
//! refers a victim (REFERRED); a case worker reviews (UNDER_REVIEW) and
//! approves an amount per need (APPROVED) or denies; payments follow, each
//! against one need; the case is closed with its outcome, or withdrawn.
//!
//! The rules kept here: no services without the victim's consent; an
//! approval commits money only when the fiscal year's available balance
//! covers it; whoever referred a case or started its review cannot approve
//! it (four eyes); a payment is at most what remains approved for its need;
//! closing or withdrawing releases what was approved and not paid. The
//! victim's personal data is not here: it is sealed by `crate::privacy`
//! and only its field names reach a case (and its audit events).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::access::Actor;
use super::fiscal_year::{FiscalCalendar, check_fiscal_year};
use super::money::{Cents, MAX_AMOUNT};
use super::names::{
    AssistanceCaseName, DisbursementName, FundAllocationName, OrganizationName, ResourceName,
};
use super::validate::{self, CheckAll, Checked, Violations};
use super::version::Stamps;
use crate::error::{Error, FieldViolation, Result};
use crate::secret::SecretString;

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

code_enum! {
    /// The fields of a victim's personal data (each sealed on its own).
    pub enum PersonalField {
        FullName => "full_name",
        Contact => "contact",
        Notes => "notes",
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

/// Most needs one case may carry.
pub const MAX_NEEDS: usize = 20;
/// Longest description of a need, reason or outcome.
pub const MAX_NOTE: usize = 2000;
/// How far ahead of the server's clock a client's time may be (clock skew).
const CLOCK_SKEW: Duration = Duration::minutes(5);

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
    /// Tokens, `apiTokens/{id}`; empty until set.
    pub referrer: String,
    pub reviewer: String,
    pub decider: String,
    /// The persons behind those tokens (their owners), for four eyes and the audit; empty until
    /// set, and for a token the server does not know (a case of the command line).
    pub referrer_owner: String,
    pub reviewer_owner: String,
    pub decider_owner: String,
    /// Which personal-data fields the case holds (never their values).
    pub personal_data_fields: Vec<PersonalField>,
    #[serde(flatten)]
    pub stamps: Stamps,
}

audited!(Referral => referring_organization_id, country_code, victim, urgency,
    consent_to_services, consent_to_statistics, needs);
// The personal data itself is not a field of the case: only the names of the fields it holds.
audited!(AssistanceCase => case_number, fiscal_year, state, referral_time, decision_time,
    first_payment_time, close_time, state_reason, outcome, referrer, reviewer, decider,
    referrer_owner, reviewer_owner, decider_owner, personal_data_fields; with referral);

impl AssistanceCase {
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

    fn refuse_final(&self, what: &str) -> Error {
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
            CaseState::UnderReview if actor.role != super::access::Role::Grantee => Ok(()),
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

/// A victim profile as it came in.
#[derive(Debug, Clone, Copy, Default)]
pub struct VictimInput<'a> {
    pub sex: Option<VictimSex>,
    pub age_group: Option<AgeGroup>,
    pub nationality: &'a str,
    pub trafficking_form: Option<TraffickingForm>,
}

/// A need as it came in.
#[derive(Debug, Clone, Copy)]
pub struct NeedInput<'a> {
    pub kind: Option<NeedKind>,
    pub description: &'a str,
    pub requested_amount: i64,
}

/// A referral as it came in (the personal data apart).
#[derive(Debug, Clone)]
pub struct ReferralInput<'a> {
    pub referring_organization: &'a str,
    pub country_code: &'a str,
    /// `None` when the request has no victim profile.
    pub victim: Option<VictimInput<'a>>,
    pub urgency: Option<CaseUrgency>,
    pub consent_to_services: bool,
    pub consent_to_statistics: bool,
    pub needs: Vec<NeedInput<'a>>,
}

const NEED_KINDS: &str = "MEDICAL, FOOD, SHELTER, RETURN_TRAVEL, REINTEGRATION, LEGAL, OTHER";

/// An amount of money that must be more than 0 (and at most [`MAX_AMOUNT`]).
pub fn positive_amount(field: &str, value: i64) -> std::result::Result<Cents, FieldViolation> {
    if value <= 0 {
        Err(FieldViolation::new(
            field,
            "must be more than 0 (an amount in cents)",
        ))
    } else if value > MAX_AMOUNT.0 {
        Err(FieldViolation::new(
            field,
            format!("must be at most {} cents", MAX_AMOUNT.0),
        ))
    } else {
        Ok(Cents(value))
    }
}

fn victim(prefix: &str, input: Option<VictimInput<'_>>) -> Checked<VictimProfile> {
    let Some(input) = input else {
        return Err(FieldViolation::new(
            prefix,
            "is required: sex, age_group, nationality and trafficking_form",
        )
        .into());
    };
    let field = |name: &str| format!("{prefix}.{name}");
    let (sex, age_group, nationality, trafficking_form) = (
        validate::required(&field("sex"), input.sex, "FEMALE, MALE, OTHER"),
        validate::required(&field("age_group"), input.age_group, "CHILD, ADULT"),
        validate::country_code(&field("nationality"), input.nationality),
        validate::required(
            &field("trafficking_form"),
            input.trafficking_form,
            "SEX, LABOUR, BOTH, OTHER",
        ),
    )
        .all()?;
    Ok(VictimProfile {
        sex,
        age_group,
        nationality,
        trafficking_form,
    })
}

fn needs(prefix: &str, input: &[NeedInput<'_>]) -> Checked<Vec<Need>> {
    let mut violations = Violations::new();
    if input.is_empty() {
        violations.add(
            prefix,
            "needs at least one need (kind, description, requested_amount)",
        );
    }
    if input.len() > MAX_NEEDS {
        violations.add(prefix, format!("at most {MAX_NEEDS} needs per case"));
    }
    let mut found = Vec::with_capacity(input.len());
    for (index, need) in input.iter().take(MAX_NEEDS).enumerate() {
        let field = |name: &str| format!("{prefix}[{index}].{name}");
        let checked = (
            need.kind.ok_or_else(|| {
                FieldViolation::new(field("kind"), format!("must be one of {NEED_KINDS}"))
            }),
            validate::required_text(&field("description"), need.description, MAX_NOTE),
            positive_amount(&field("requested_amount"), need.requested_amount),
        )
            .all();
        if let Some((kind, description, requested)) = violations.check(checked) {
            found.push(Need {
                number: index as i32 + 1,
                kind,
                description,
                requested,
                approved: Cents(0),
                paid: Cents(0),
            });
        }
    }
    violations.or(found)
}

impl ReferralInput<'_> {
    /// Checks every rule of a referral and reports all violations at once.
    /// A referral without the victim's consent to services is refused: no services without it.
    pub fn validate(&self, prefix: &str) -> Result<Referral> {
        let field = |name: &str| format!("{prefix}.{name}");
        let consent = if self.consent_to_services {
            Ok(())
        } else {
            Err(FieldViolation::new(
                field("consent_to_services"),
                "must be true: no services without the victim's consent to them",
            ))
        };
        let (organization, country_code, victim, urgency, (), needs) = (
            OrganizationName::parse(
                &field("referring_organization"),
                self.referring_organization,
            ),
            validate::country_code(&field("country_code"), self.country_code),
            victim(&field("victim"), self.victim),
            validate::required(&field("urgency"), self.urgency, "CRITICAL, HIGH, NORMAL"),
            consent,
            needs(&field("needs"), &self.needs),
        )
            .all()?;
        Ok(Referral {
            referring_organization_id: organization.organization,
            country_code,
            victim,
            urgency,
            consent_to_services: self.consent_to_services,
            consent_to_statistics: self.consent_to_statistics,
            needs,
        })
    }
}

/// A grantee refers only for its own organisation (checked before anything is looked up,
/// so the answer tells nothing about other organisations).
pub fn check_own_referral(field: &str, actor: &Actor, organization_id: &str) -> Result<()> {
    match (&actor.role, &actor.organization_id) {
        (super::access::Role::Grantee, Some(own)) if own != organization_id => Err(Error::invalid(
            field,
            format!(
                "a grantee refers cases for its own organisation, {}",
                OrganizationName::new(own)
            ),
        )),
        _ => Ok(()),
    }
}

/// A time a client may give (referral, decision, payment): not in the future, not before `earliest`.
pub fn past_time(
    field: &str,
    value: Option<DateTime<Utc>>,
    earliest: Option<(DateTime<Utc>, &str)>,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, FieldViolation> {
    let Some(time) = value else { return Ok(now) };
    // Both databases keep microseconds: keep no more, so what is stored is what is answered.
    let time = DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time);
    if time > now + CLOCK_SKEW {
        return Err(FieldViolation::new(field, "must not be in the future"));
    }
    match earliest {
        Some((earliest, what)) if time < earliest => Err(FieldViolation::new(
            field,
            format!("must not be before the {what} ({earliest})"),
        )),
        _ => Ok(time),
    }
}

/// The fiscal year of a referral: the fiscal year of its date (UTC), which must be one the office records.
pub fn referral_fiscal_year(
    field: &str,
    calendar: &FiscalCalendar,
    referral_time: DateTime<Utc>,
) -> std::result::Result<i32, FieldViolation> {
    let year = calendar.fiscal_year_of(referral_time.date_naive());
    check_fiscal_year(year).map_err(|rule| {
        FieldViolation::new(field, format!("falls in fiscal year {year}, which {rule}"))
    })
}

/// How many numbers a fiscal year has: eight random digits.
const CASE_NUMBERS_PER_YEAR: u32 = 100_000_000;

/// A new readable case number, `EAF-2014-4821-0937`: the fiscal year of the referral and eight
/// random digits (read and said on the phone in two groups of four). Random, not a sequence: a
/// sequence shared by every organisation let a grantee read others' referral counts off its own
/// numbers. Numbers given before (`EAF-2014-0007`, one sequence per year) stay valid; their shape
/// differs, so no new number can equal one. The store checks that a number is unused.
pub fn new_case_number(fiscal_year: i32) -> String {
    case_number(fiscal_year, rand::random_range(0..CASE_NUMBERS_PER_YEAR))
}

fn case_number(fiscal_year: i32, draw: u32) -> String {
    format!(
        "EAF-{fiscal_year}-{:04}-{:04}",
        draw / 10_000 % 10_000,
        draw % 10_000
    )
}

/// Whether `actor` may date a referral in fiscal year `year` (today's being `current_year`):
/// a grantee the current or the previous fiscal year (a late referral of the year just ended),
/// never further back; staff any year, as long as it is open ([`check_year_open`]).
pub fn check_referral_year(
    field: &str,
    actor: &Actor,
    year: i32,
    current_year: i32,
) -> std::result::Result<i32, FieldViolation> {
    if actor.role == super::access::Role::Grantee && year < current_year - 1 {
        return Err(FieldViolation::new(
            field,
            format!(
                "falls in fiscal year {year}: a grantee dates a referral in fiscal year {} or {current_year}",
                current_year - 1
            ),
        ));
    }
    Ok(year)
}

/// A fiscal year takes new cases unless it is closed: it ended before the previous fiscal year
/// (today's being `current_year`) and its fund has nothing left to commit (nothing allocated, or
/// all of it committed). There is no explicit closing: the fund's ledger decides.
pub fn check_year_open(current_year: i32, fund: &FundYear) -> Result<()> {
    if fund.fiscal_year >= current_year - 1 || fund.available() > Cents(0) {
        return Ok(());
    }
    Err(Error::precondition(
        "FISCAL_YEAR_CLOSED",
        format!("fiscal year {}", fund.fiscal_year),
        format!(
            "fiscal year {} is closed: it ended before fiscal year {} and its fund has nothing left to commit, so it takes no new case",
            fund.fiscal_year,
            current_year - 1
        ),
    ))
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

/// A change of a case's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseTransition {
    StartReview,
    Approve,
    Deny,
    Withdraw,
    Close,
}

impl CaseTransition {
    fn verb(self) -> &'static str {
        match self {
            CaseTransition::StartReview => "start the review of",
            CaseTransition::Approve => "approve",
            CaseTransition::Deny => "deny",
            CaseTransition::Withdraw => "withdraw",
            CaseTransition::Close => "close",
        }
    }

    /// The state after this transition from `from`, if allowed.
    pub fn target(self, from: CaseState) -> Option<CaseState> {
        use CaseState::*;
        match (self, from) {
            (CaseTransition::StartReview, Referred) => Some(UnderReview),
            (CaseTransition::Approve, UnderReview) => Some(Approved),
            (CaseTransition::Deny, UnderReview) => Some(Denied),
            (CaseTransition::Withdraw, Referred | UnderReview | Approved) => Some(Withdrawn),
            (CaseTransition::Close, Approved) => Some(Closed),
            _ => None,
        }
    }

    /// Whether deciding it needs the fund of the case's fiscal year.
    pub fn moves_money(self, from: CaseState) -> bool {
        match self {
            CaseTransition::Approve | CaseTransition::Close => true,
            CaseTransition::Withdraw => from == CaseState::Approved,
            CaseTransition::StartReview | CaseTransition::Deny => false,
        }
    }
}

/// What a state-change request carries besides the case's name.
#[derive(Debug, Clone, Default)]
pub struct TransitionInput<'a> {
    /// Deny and withdraw: why. Close: the outcome.
    pub reason: &'a str,
    /// Approve: `(need number, approved amount)` per need, in request order.
    pub approvals: Vec<(i32, i64)>,
    /// Approve and deny: when decided (default now).
    pub decision_time: Option<DateTime<Utc>>,
}

/// The fund of one fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FundYear {
    pub fiscal_year: i32,
    pub allocated: Cents,
    /// Committed by approvals and not released (paid included).
    pub committed: Cents,
    pub paid: Cents,
}

impl FundYear {
    /// An empty fund.
    pub fn empty(fiscal_year: i32) -> FundYear {
        FundYear {
            fiscal_year,
            allocated: Cents(0),
            committed: Cents(0),
            paid: Cents(0),
        }
    }

    /// What new approvals may still commit.
    pub fn available(&self) -> Cents {
        Cents(self.allocated.0.saturating_sub(self.committed.0))
    }

    /// The fund after an allocation of `amount` (negative to reduce it), refused when the
    /// allocation would fall below what is committed.
    pub fn allocate(&self, amount: Cents) -> Result<FundYear> {
        let allocated = self
            .allocated
            .checked_add(amount)
            .filter(|total| *total <= Cents(MAX_AMOUNT.0.saturating_mul(1000)))
            .ok_or_else(|| {
                Error::invalid(
                    "fund_allocation.amount",
                    "the year's total would be too large",
                )
            })?;
        if allocated < self.committed {
            return Err(Error::precondition(
                "FUND_ALLOCATION_BELOW_COMMITTED",
                format!("fiscal year {}", self.fiscal_year),
                format!(
                    "the fiscal year {} allocation would fall to {allocated}, below the {} that approvals have committed",
                    self.fiscal_year, self.committed
                ),
            ));
        }
        Ok(FundYear { allocated, ..*self })
    }

    /// The fund after committing `amount` to `case`, refused when the available balance does not cover it.
    fn commit(&self, amount: Cents, case: &str) -> Result<FundYear> {
        if amount > self.available() {
            return Err(Error::precondition(
                "FUND_INSUFFICIENT",
                case,
                format!(
                    "the fiscal year {} fund has {} available, less than the {amount} to approve",
                    self.fiscal_year,
                    self.available()
                ),
            ));
        }
        Ok(FundYear {
            committed: Cents(self.committed.0 + amount.0),
            ..*self
        })
    }

    /// The fund after releasing `amount` that a case will not pay.
    fn release(&self, amount: Cents) -> FundYear {
        FundYear {
            committed: Cents(self.committed.0.saturating_sub(amount.0).max(self.paid.0)),
            ..*self
        }
    }

    /// The fund after a payment of `amount` (already committed).
    fn pay(&self, amount: Cents) -> FundYear {
        FundYear {
            paid: Cents(self.paid.0.saturating_add(amount.0)),
            ..*self
        }
    }
}

/// A decided state change: the case after it, and the fund after it when money moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub case: AssistanceCase,
    pub fund: Option<FundYear>,
}

/// Decides a state change of `case` by `actor` at `now`. `fund` is the locked fund of the
/// case's fiscal year (required when [`CaseTransition::moves_money`]).
pub fn decide_transition(
    case: &AssistanceCase,
    transition: CaseTransition,
    actor: &Actor,
    input: &TransitionInput<'_>,
    fund: Option<FundYear>,
    now: DateTime<Utc>,
) -> Result<Decided> {
    let needs_text = matches!(
        transition,
        CaseTransition::Deny | CaseTransition::Withdraw | CaseTransition::Close
    );
    let text_field = if transition == CaseTransition::Close {
        "outcome"
    } else {
        "reason"
    };
    let text = validate::optional_text(text_field, input.reason, MAX_NOTE)?;
    if needs_text && text.is_empty() {
        return Err(Error::invalid(
            text_field,
            format!("is required to {} a case", transition.verb()),
        ));
    }
    if case.state.is_final() {
        return Err(case.refuse_final(transition.verb()));
    }
    let Some(target) = transition.target(case.state) else {
        return Err(Error::precondition(
            "ASSISTANCE_CASE_STATE_TRANSITION_NOT_ALLOWED",
            case.resource_name(),
            format!("cannot {} a case that is {}", transition.verb(), case.state),
        ));
    };
    let fund_needed = transition.moves_money(case.state);
    let fund = match (fund_needed, fund) {
        (true, Some(fund)) => Some(fund),
        (true, None) => {
            return Err(Error::Internal(format!(
                "deciding {transition:?} of {} without its fund",
                case.resource_name()
            )));
        }
        (false, _) => None,
    };
    let me = actor.resource_name();
    let mut after = case.clone();
    after.state = target;
    let fund = match transition {
        CaseTransition::StartReview => {
            after.reviewer = me;
            after.reviewer_owner = actor.owner.clone();
            None
        }
        CaseTransition::Approve => {
            check_four_eyes(case, actor)?;
            let (approved, decision_time) = check_approvals(case, input, now)?;
            for (need, amount) in after.referral.needs.iter_mut().zip(approved) {
                need.approved = amount;
            }
            after.decision_time = Some(decision_time);
            after.decider = me;
            after.decider_owner = actor.owner.clone();
            fund.map(|fund| fund.commit(after.approved(), &case.resource_name()))
                .transpose()?
        }
        CaseTransition::Deny => {
            let decision_time = past_time(
                "decision_time",
                input.decision_time,
                Some((case.referral_time, "referral")),
                now,
            )?;
            after.decision_time = Some(decision_time);
            after.decider = me;
            after.decider_owner = actor.owner.clone();
            after.state_reason = text;
            None
        }
        CaseTransition::Withdraw | CaseTransition::Close => {
            after.close_time = Some(now);
            if transition == CaseTransition::Close {
                after.outcome = text;
            } else {
                after.state_reason = text;
            }
            fund.map(|fund| fund.release(case.unpaid()))
        }
    };
    Ok(Decided { case: after, fund })
}

/// Four eyes: the person who referred the case or started its review (with any of their
/// tokens: persons are compared, `Actor::is_person`), and any token of the referring
/// organisation, cannot approve it.
fn check_four_eyes(case: &AssistanceCase, actor: &Actor) -> Result<()> {
    let refusal = if actor.is_person(&case.referrer, &case.referrer_owner) {
        Some(
            "the person who referred a case cannot approve it, with any of their tokens: another case worker decides",
        )
    } else if actor.is_person(&case.reviewer, &case.reviewer_owner) {
        Some(
            "the person who started the review of a case cannot approve it, with any of their tokens: another case worker decides",
        )
    } else if actor.organization_id.as_deref()
        == Some(case.referral.referring_organization_id.as_str())
    {
        Some("a token of the referring organisation cannot approve its own referral")
    } else {
        None
    };
    match refusal {
        Some(message) => Err(Error::precondition(
            "ASSISTANCE_CASE_FOUR_EYES",
            case.resource_name(),
            message,
        )),
        None => Ok(()),
    }
}

/// The approved amount of every need, in need order, and the decision time: one approval per
/// need, each from 0 to the amount requested, at least one above 0.
fn check_approvals(
    case: &AssistanceCase,
    input: &TransitionInput<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<Cents>, DateTime<Utc>)> {
    let mut violations = Violations::new();
    let mut approved: Vec<Option<Cents>> = vec![None; case.referral.needs.len()];
    for (index, (number, amount)) in input.approvals.iter().enumerate() {
        let field = |name: &str| format!("approvals[{index}].{name}");
        let Some(need) = case
            .referral
            .needs
            .iter()
            .find(|need| need.number == *number)
        else {
            violations.add(
                field("need_number"),
                format!(
                    "{number} is not a need of this case (its needs are 1 to {})",
                    case.referral.needs.len()
                ),
            );
            continue;
        };
        let slot = &mut approved[(need.number - 1) as usize];
        if slot.is_some() {
            violations.add(
                field("need_number"),
                format!("need {number} appears more than once"),
            );
            continue;
        }
        if *amount < 0 {
            violations.add(
                field("approved_amount"),
                "must not be negative (0 declines the need)",
            );
        } else if *amount > need.requested.0 {
            violations.add(
                field("approved_amount"),
                format!(
                    "{} is more than the {} requested for need {number}",
                    Cents(*amount),
                    need.requested
                ),
            );
        } else {
            *slot = Some(Cents(*amount));
        }
    }
    let missing: Vec<String> = case
        .referral
        .needs
        .iter()
        .zip(&approved)
        .filter(|(_, amount)| amount.is_none())
        .map(|(need, _)| need.number.to_string())
        .collect();
    if violations.is_empty() && !missing.is_empty() {
        violations.add(
            "approvals",
            format!(
                "needs an approved amount for every need (0 declines one); missing: {}",
                missing.join(", ")
            ),
        );
    }
    if violations.is_empty() && approved.iter().all(|amount| *amount == Some(Cents(0))) {
        violations.add(
            "approvals",
            "approve at least one need with more than 0, or deny the case",
        );
    }
    let decision_time = violations.check(past_time(
        "decision_time",
        input.decision_time,
        Some((case.referral_time, "referral")),
        now,
    ));
    violations.finish()?;
    let decision_time = decision_time.unwrap_or(now);
    Ok((
        approved
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
        decision_time,
    ))
}

/// A payment as it came in.
#[derive(Debug, Clone, Copy)]
pub struct DisbursementInput<'a> {
    pub need_number: i32,
    pub amount: i64,
    pub payment_time: Option<DateTime<Utc>>,
    pub reference: &'a str,
}

/// A checked payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDisbursement {
    pub need_number: i32,
    pub need_kind: NeedKind,
    pub amount: Cents,
    pub payment_time: DateTime<Utc>,
    pub reference: String,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disbursement {
    pub id: String,
    pub case_id: String,
    pub need_number: i32,
    pub need_kind: NeedKind,
    pub amount: Cents,
    pub payment_time: DateTime<Utc>,
    pub reference: String,
    pub creator: String,
    pub create_time: DateTime<Utc>,
}

audited!(Disbursement => need_number, need_kind, amount, payment_time, reference);

impl Disbursement {
    pub fn resource_name(&self) -> String {
        DisbursementName::new(&self.case_id, &self.id).to_string()
    }
}

/// Decides a payment against `case`: it must be APPROVED, the need approved, the amount at most
/// what remains approved for it. Answers the payment, the case after it and the fund after it.
pub fn decide_disbursement(
    case: &AssistanceCase,
    input: &DisbursementInput<'_>,
    fund: FundYear,
    now: DateTime<Utc>,
) -> Result<(NewDisbursement, AssistanceCase, FundYear)> {
    let prefix = "disbursement";
    let field = |name: &str| format!("{prefix}.{name}");
    let (amount, reference) = (
        positive_amount(&field("amount"), input.amount),
        validate::optional_text(&field("reference"), input.reference, 200),
    )
        .all()?;
    if case.state.is_final() {
        return Err(case.refuse_final("payment"));
    }
    if case.state != CaseState::Approved {
        return Err(Error::precondition(
            "ASSISTANCE_CASE_NOT_APPROVED",
            case.resource_name(),
            format!("the case is {}: payments follow an approval", case.state),
        ));
    }
    let Some(need) = case
        .referral
        .needs
        .iter()
        .find(|need| need.number == input.need_number)
    else {
        return Err(Error::invalid(
            field("need_number"),
            format!(
                "{} is not a need of this case (its needs are 1 to {})",
                input.need_number,
                case.referral.needs.len()
            ),
        ));
    };
    if need.approved == Cents(0) {
        return Err(Error::invalid(
            field("need_number"),
            format!(
                "need {} was declined: nothing was approved for it",
                need.number
            ),
        ));
    }
    if amount > need.remaining() {
        return Err(Error::invalid(
            field("amount"),
            format!(
                "{amount} is more than the {} that remains approved for need {} (approved {}, paid {})",
                need.remaining(),
                need.number,
                need.approved,
                need.paid
            ),
        ));
    }
    let earliest = case.decision_time.map(|time| (time, "decision"));
    let payment_time = past_time(&field("payment_time"), input.payment_time, earliest, now)?;
    let mut after = case.clone();
    for paid in after
        .referral
        .needs
        .iter_mut()
        .filter(|n| n.number == need.number)
    {
        paid.paid = Cents(paid.paid.0 + amount.0);
    }
    after.first_payment_time = Some(match case.first_payment_time {
        Some(first) => first.min(payment_time),
        None => payment_time,
    });
    let payment = NewDisbursement {
        need_number: need.number,
        need_kind: need.kind,
        amount,
        payment_time,
        reference,
    };
    Ok((payment, after, fund.pay(amount)))
}

/// An allocation as it came in, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAllocation {
    pub fiscal_year: i32,
    pub amount: Cents,
    pub note: String,
}

/// A stored allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundAllocation {
    pub id: String,
    pub fiscal_year: i32,
    pub amount: Cents,
    pub note: String,
    pub creator: String,
    pub create_time: DateTime<Utc>,
}

audited!(FundAllocation => fiscal_year, amount, note);

impl FundAllocation {
    pub fn resource_name(&self) -> String {
        FundAllocationName::new(&self.id).to_string()
    }
}

/// Checks an allocation: a fiscal year the office records, an amount other than 0, a note when it reduces the fund.
pub fn new_allocation(
    prefix: &str,
    fiscal_year: i32,
    amount: i64,
    note: &str,
) -> Result<NewAllocation> {
    let field = |name: &str| format!("{prefix}.{name}");
    let amount = if amount == 0 {
        Err(FieldViolation::new(
            field("amount"),
            "must not be 0: positive to allocate, negative to reduce",
        ))
    } else if amount.unsigned_abs() > MAX_AMOUNT.0.unsigned_abs() {
        Err(FieldViolation::new(
            field("amount"),
            format!("must be at most {} cents either way", MAX_AMOUNT.0),
        ))
    } else {
        Ok(Cents(amount))
    };
    let (fiscal_year, amount, note) = (
        check_fiscal_year(fiscal_year)
            .map_err(|rule| FieldViolation::new(field("fiscal_year"), rule)),
        amount,
        validate::optional_text(&field("note"), note, MAX_NOTE),
    )
        .all()?;
    if amount < Cents(0) && note.is_empty() {
        return Err(Error::invalid(
            field("note"),
            "is required when the amount reduces the year's allocation",
        ));
    }
    Ok(NewAllocation {
        fiscal_year,
        amount,
        note,
    })
}

/// The time before which a CRITICAL case still undecided is late.
pub fn critical_cutoff(now: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
    now - Duration::hours(i64::from(hours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn actor(id: &str, role: Role, organization: Option<&str>) -> Actor {
        Actor {
            token_id: id.into(),
            role,
            organization_id: organization.map(str::to_string),
            owner: format!("{id}@example.org"),
        }
    }

    fn case(state: CaseState) -> AssistanceCase {
        let need = |number: i32, kind, requested: i64| Need {
            number,
            kind,
            description: "what".into(),
            requested: Cents(requested),
            approved: Cents(0),
            paid: Cents(0),
        };
        AssistanceCase {
            id: "c1".into(),
            case_number: case_number(2014, 7),
            fiscal_year: 2014,
            referral: Referral {
                referring_organization_id: "ngo".into(),
                country_code: "HT".into(),
                victim: VictimProfile {
                    sex: VictimSex::Female,
                    age_group: AgeGroup::Child,
                    nationality: "HT".into(),
                    trafficking_form: TraffickingForm::Labour,
                },
                urgency: CaseUrgency::Critical,
                consent_to_services: true,
                consent_to_statistics: true,
                needs: vec![
                    need(1, NeedKind::Medical, 50_000),
                    need(2, NeedKind::ReturnTravel, 80_000),
                ],
            },
            state,
            referral_time: time("2014-03-01T08:00:00Z"),
            decision_time: None,
            first_payment_time: None,
            close_time: None,
            state_reason: String::new(),
            outcome: String::new(),
            referrer: "apiTokens/grantee".into(),
            reviewer: String::new(),
            decider: String::new(),
            referrer_owner: "grantee@example.org".into(),
            reviewer_owner: String::new(),
            decider_owner: String::new(),
            personal_data_fields: vec![],
            stamps: Stamps::new(time("2014-03-01T08:00:00Z")),
        }
    }

    fn fund(allocated: i64) -> FundYear {
        FundYear {
            allocated: Cents(allocated),
            ..FundYear::empty(2014)
        }
    }

    fn approve(
        case: &AssistanceCase,
        who: &Actor,
        approvals: Vec<(i32, i64)>,
        fund: FundYear,
    ) -> Result<Decided> {
        decide_transition(
            case,
            CaseTransition::Approve,
            who,
            &TransitionInput {
                approvals,
                ..Default::default()
            },
            Some(fund),
            time("2014-03-02T08:00:00Z"),
        )
    }

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

    #[test]
    fn the_case_state_machine_allows_exactly_these_transitions() {
        use CaseState::*;
        use CaseTransition::*;
        crate::domain::assert_exact_transitions(
            CaseTransition::target,
            &[
                (StartReview, &[Referred], UnderReview),
                (Approve, &[UnderReview], Approved),
                (Deny, &[UnderReview], Denied),
                (Withdraw, &[Referred, UnderReview, Approved], Withdrawn),
                (Close, &[Approved], Closed),
            ],
        );
    }

    #[test]
    fn an_approval_commits_the_approved_sum_only_when_the_fund_covers_it() {
        let case = case(CaseState::UnderReview);
        let worker = actor("w2", Role::CaseWorker, None);

        let decided = approve(
            &case,
            &worker,
            vec![(1, 50_000), (2, 30_000)],
            fund(100_000),
        )
        .unwrap();
        let refused = approve(
            &case,
            &worker,
            vec![(1, 50_000), (2, 60_000)],
            fund(100_000),
        );

        assert_eq!(decided.case.state, CaseState::Approved);
        assert_eq!(decided.case.approved(), Cents(80_000));
        assert_eq!(decided.fund.map(|f| f.available()), Some(Cents(20_000)));
        assert_eq!(refused.unwrap_err().reason(), "FUND_INSUFFICIENT");
    }

    #[test]
    fn the_referrer_the_reviewer_and_the_referring_organisation_cannot_approve() {
        let mut case = case(CaseState::UnderReview);
        case.reviewer = "apiTokens/w1".into();
        case.reviewer_owner = "w1@example.org".into();
        let another_token_of = |owner: &str| Actor {
            owner: format!(" {} ", owner.to_uppercase()),
            ..actor("second-token", Role::CaseWorker, None)
        };
        for who in [
            actor("grantee", Role::CaseWorker, None),
            actor("w1", Role::CaseWorker, None),
            actor("other", Role::Admin, Some("ngo")),
            another_token_of("grantee@example.org"),
            another_token_of("w1@example.org"),
        ] {
            let refused = approve(&case, &who, vec![(1, 1), (2, 1)], fund(100_000));
            assert_eq!(
                refused.unwrap_err().reason(),
                "ASSISTANCE_CASE_FOUR_EYES",
                "{who:?}"
            );
        }
    }

    #[test]
    fn approvals_name_every_need_once_within_its_request_and_approve_something() {
        let case = case(CaseState::UnderReview);
        let worker = actor("w2", Role::CaseWorker, None);
        let fields = |approvals: Vec<(i32, i64)>| match approve(
            &case,
            &worker,
            approvals,
            fund(1_000_000),
        ) {
            Err(Error::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields(vec![(1, 50_001), (2, 0)]),
            ["approvals[0].approved_amount"]
        );
        assert_eq!(
            fields(vec![(1, -1), (2, 0)]),
            ["approvals[0].approved_amount"]
        );
        assert_eq!(fields(vec![(1, 1), (3, 0)]), ["approvals[1].need_number"]);
        assert_eq!(fields(vec![(1, 1), (1, 0)]), ["approvals[1].need_number"]);
        assert_eq!(fields(vec![(1, 1)]), ["approvals"]);
        assert_eq!(fields(vec![(1, 0), (2, 0)]), ["approvals"]);
    }

    #[test]
    fn closing_and_withdrawing_release_what_was_approved_and_not_paid() {
        let mut approved = case(CaseState::Approved);
        approved.referral.needs[0].approved = Cents(50_000);
        approved.referral.needs[0].paid = Cents(20_000);
        approved.referral.needs[1].approved = Cents(30_000);
        let before = FundYear {
            allocated: Cents(100_000),
            committed: Cents(80_000),
            paid: Cents(20_000),
            fiscal_year: 2014,
        };
        for transition in [CaseTransition::Close, CaseTransition::Withdraw] {
            let decided = decide_transition(
                &approved,
                transition,
                &actor("w2", Role::CaseWorker, None),
                &TransitionInput {
                    reason: "done",
                    ..Default::default()
                },
                Some(before),
                time("2014-04-01T00:00:00Z"),
            )
            .unwrap();
            assert_eq!(decided.fund.map(|f| f.committed), Some(Cents(20_000)));
            assert_eq!(decided.fund.map(|f| f.available()), Some(Cents(80_000)));
        }
    }

    #[test]
    fn a_payment_is_at_most_what_remains_approved_for_its_need() {
        let mut approved = case(CaseState::Approved);
        approved.referral.needs[0].approved = Cents(50_000);
        approved.referral.needs[0].paid = Cents(45_000);
        approved.decision_time = Some(time("2014-03-02T08:00:00Z"));
        let pay = |need_number, amount| {
            decide_disbursement(
                &approved,
                &DisbursementInput {
                    need_number,
                    amount,
                    payment_time: None,
                    reference: "",
                },
                fund(100_000),
                time("2014-03-05T08:00:00Z"),
            )
        };
        assert!(pay(1, 5_000).is_ok());
        assert!(matches!(pay(1, 5_001), Err(Error::InvalidArgument(_))));
        assert!(
            matches!(pay(2, 1), Err(Error::InvalidArgument(_))),
            "need 2 was declined"
        );
        assert!(matches!(pay(1, 0), Err(Error::InvalidArgument(_))));
        let (_, after, fund) = pay(1, 5_000).unwrap();
        assert_eq!(after.paid(), Cents(50_000));
        assert_eq!(after.first_payment_time, Some(time("2014-03-05T08:00:00Z")));
        assert_eq!(fund.paid, Cents(5_000));
    }

    #[test]
    fn an_allocation_never_falls_below_what_is_committed() {
        let year = FundYear {
            committed: Cents(60_000),
            ..fund(100_000)
        };
        assert_eq!(
            year.allocate(Cents(-40_000)).unwrap().allocated,
            Cents(60_000)
        );
        assert_eq!(
            year.allocate(Cents(-40_001)).unwrap_err().reason(),
            "FUND_ALLOCATION_BELOW_COMMITTED"
        );
        assert!(
            new_allocation("a", 2014, -5, "").is_err(),
            "a reduction needs a note"
        );
        assert!(new_allocation("a", 2014, 0, "x").is_err());
        assert!(new_allocation("a", 1989, 5, "").is_err());
    }

    #[test]
    fn a_case_number_is_the_fiscal_year_and_eight_digits_in_two_groups() {
        assert_eq!(case_number(2014, 48_210_937), "EAF-2014-4821-0937");
        assert_eq!(case_number(2014, 7), "EAF-2014-0000-0007");
        let number = new_case_number(2026);
        assert_eq!(number.len(), "EAF-2026-0000-0000".len());
        assert!(number.starts_with("EAF-2026-"), "{number}");
    }

    #[test]
    fn a_grantee_dates_a_referral_in_the_current_or_previous_fiscal_year_and_staff_in_any_open_one()
    {
        let grantee = actor("g", Role::Grantee, Some("ngo"));
        let worker = actor("w", Role::CaseWorker, None);
        assert!(check_referral_year("t", &grantee, 2025, 2026).is_ok());
        assert!(check_referral_year("t", &grantee, 2024, 2026).is_err());
        assert!(check_referral_year("t", &worker, 1995, 2026).is_ok());
        let old = |allocated, committed| FundYear {
            fiscal_year: 2014,
            allocated: Cents(allocated),
            committed: Cents(committed),
            paid: Cents(0),
        };
        assert!(check_year_open(2026, &old(100, 50)).is_ok());
        assert_eq!(
            check_year_open(2026, &old(100, 100)).unwrap_err().reason(),
            "FISCAL_YEAR_CLOSED"
        );
        assert!(check_year_open(2026, &FundYear::empty(1995)).is_err());
        assert!(check_year_open(2026, &FundYear::empty(2025)).is_ok());
    }

    #[test]
    fn a_referral_without_consent_to_services_is_refused() {
        let input = ReferralInput {
            referring_organization: "organizations/ngo",
            country_code: "HT",
            victim: Some(VictimInput {
                sex: Some(VictimSex::Female),
                age_group: Some(AgeGroup::Adult),
                nationality: "NP",
                trafficking_form: Some(TraffickingForm::Sex),
            }),
            urgency: Some(CaseUrgency::High),
            consent_to_services: false,
            consent_to_statistics: true,
            needs: vec![NeedInput {
                kind: Some(NeedKind::Food),
                description: "food",
                requested_amount: 100,
            }],
        };
        match input.validate("c") {
            Err(Error::InvalidArgument(violations)) => {
                assert_eq!(violations[0].field, "c.consent_to_services")
            }
            other => panic!("{other:?}"),
        }
    }
}
