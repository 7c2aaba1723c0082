//! Proto <-> domain enums: [`ProtoEnum`] converts by name, so the two cannot
//! drift apart silently, and each pair is declared here in one line
//! (`proto_enum!`); the round-trip test covers every domain value.

use crate::domain::CodeEnum;
use crate::domain::access::Role;
use crate::domain::amendment::{AmendmentKind, AmendmentState};
use crate::domain::assistance::{
    AgeGroup, CaseState, CaseUrgency, NeedKind, TraffickingForm, VictimSex,
};
use crate::domain::budget::BudgetCategory;
use crate::domain::closeout::CloseoutStatus;
use crate::domain::financial_report::FinancialReportState;
use crate::domain::funds::FundsStatus;
use crate::domain::grant::{
    GrantApproach, GrantInstrument, GrantState, ObligationKind, ReportingCadence,
};
use crate::domain::organization::OrganizationKind;
use crate::domain::outcome::{OutcomeReportState, ReportingStatus};
use crate::domain::payment::{PaymentKind, PaymentRequestState};
use crate::domain::pillar::Pillar;
use crate::domain::project::{ActivityKind, OutcomeKind, ProjectState};
use crate::domain::report::Grouping;
use crate::domain::tip_report::TipTier;
use crate::pb::v1 as pb;

/// A domain `code_enum!` with a proto twin whose value names are one of
/// `PREFIXES` followed by the domain code (`GRANT_STATE_ACTIVE` for
/// `ACTIVE`). The conversion goes by name, so the two cannot drift apart
/// silently: the round-trip test in `enums` covers every domain value.
/// `proto_enum!` also spells each value for the domain's hints
/// ([`ClientSpelling`](crate::domain::validate::ClientSpelling)): a client
/// reads the names it types.
pub trait ProtoEnum: CodeEnum + crate::domain::validate::ClientSpelling {
    /// The prefixes of the proto value names, longest first.
    const PREFIXES: &'static [&'static str];

    /// The proto value name of a number, if it is one.
    fn proto_name(value: i32) -> Option<&'static str>;

    /// The domain value of a proto number (`None` for unspecified or unknown).
    fn from_proto(value: i32) -> Option<Self> {
        let name = Self::proto_name(value)?;
        Self::PREFIXES
            .iter()
            .find_map(|prefix| Self::from_code(name.strip_prefix(prefix)?))
    }

    /// The proto number of a domain value.
    fn to_proto(self) -> i32;

    /// A filter value: the code or the proto name, any case (`active`, `GRANT_STATE_ACTIVE`).
    fn from_filter(value: &str) -> Option<Self> {
        let upper = value.trim().to_ascii_uppercase();
        Self::from_code(&upper).or_else(|| {
            Self::PREFIXES
                .iter()
                .find_map(|prefix| Self::from_code(upper.strip_prefix(prefix)?))
        })
    }
}

proto_enum!(GrantInstrument, pb::GrantInstrument, ["GRANT_INSTRUMENT_"]);
proto_enum!(GrantApproach, pb::GrantApproach, ["GRANT_APPROACH_"]);
proto_enum!(
    ReportingCadence,
    pb::ReportingCadence,
    ["REPORTING_CADENCE_"]
);
proto_enum!(GrantState, pb::GrantState, ["GRANT_STATE_"]);
proto_enum!(FundsStatus, pb::FundsStatus, ["FUNDS_STATUS_"]);
proto_enum!(
    FinancialReportState,
    pb::FinancialReportState,
    ["FINANCIAL_REPORT_STATE_"]
);
proto_enum!(PaymentKind, pb::PaymentKind, ["PAYMENT_KIND_"]);
proto_enum!(AmendmentKind, pb::AmendmentKind, ["AMENDMENT_KIND_"]);
proto_enum!(AmendmentState, pb::AmendmentState, ["AMENDMENT_STATE_"]);
proto_enum!(BudgetCategory, pb::BudgetCategory, ["BUDGET_CATEGORY_"]);
proto_enum!(CloseoutStatus, pb::CloseoutStatus, ["CLOSEOUT_STATUS_"]);
proto_enum!(
    PaymentRequestState,
    pb::PaymentRequestState,
    ["PAYMENT_REQUEST_STATE_"]
);
proto_enum!(ObligationKind, pb::ObligationKind, ["OBLIGATION_KIND_"]);
proto_enum!(ActivityKind, pb::ActivityKind, ["ACTIVITY_KIND_"]);
proto_enum!(ProjectState, pb::ProjectState, ["PROJECT_STATE_"]);
proto_enum!(OutcomeKind, pb::OutcomeKind, ["OUTCOME_KIND_"]);
proto_enum!(
    OrganizationKind,
    pb::OrganizationKind,
    ["ORGANIZATION_KIND_"]
);
proto_enum!(Role, pb::Role, ["ROLE_"]);
proto_enum!(Pillar, pb::Pillar, ["PILLAR_"]);
// `TIP_TIER_1` is `TIER_1`, but `TIP_TIER_SPECIAL_CASE` is `SPECIAL_CASE`.
proto_enum!(TipTier, pb::TipTier, ["TIP_TIER_", "TIP_"]);
proto_enum!(
    OutcomeReportState,
    pb::OutcomeReportState,
    ["OUTCOME_REPORT_STATE_"]
);
proto_enum!(
    ReportingStatus,
    pb::ReportingPeriodStatus,
    ["REPORTING_PERIOD_STATUS_"]
);
proto_enum!(
    CaseState,
    pb::AssistanceCaseState,
    ["ASSISTANCE_CASE_STATE_"]
);
proto_enum!(CaseUrgency, pb::CaseUrgency, ["CASE_URGENCY_"]);
proto_enum!(VictimSex, pb::VictimSex, ["VICTIM_SEX_"]);
proto_enum!(AgeGroup, pb::AgeGroup, ["AGE_GROUP_"]);
proto_enum!(TraffickingForm, pb::TraffickingForm, ["TRAFFICKING_FORM_"]);
proto_enum!(NeedKind, pb::NeedKind, ["NEED_KIND_"]);
proto_enum!(Grouping, pb::ReportGrouping, ["REPORT_GROUPING_"]);

/// Every domain value has its proto value, and back.
#[cfg(test)]
fn round_trip<T: ProtoEnum>() {
    for value in T::ALL.iter().copied() {
        assert_eq!(T::from_proto(value.to_proto()), Some(value), "{value:?}");
        assert_eq!(T::from_filter(value.code()), Some(value), "{value:?}");
        assert_eq!(
            T::from_filter(value.client_name()),
            Some(value),
            "{value:?}"
        );
    }
    assert_eq!(T::from_proto(0), None);
}

#[test]
fn every_domain_value_has_its_proto_value() {
    round_trip::<GrantInstrument>();
    round_trip::<GrantApproach>();
    round_trip::<ReportingCadence>();
    round_trip::<GrantState>();
    round_trip::<FundsStatus>();
    round_trip::<FinancialReportState>();
    round_trip::<PaymentKind>();
    round_trip::<AmendmentKind>();
    round_trip::<AmendmentState>();
    round_trip::<BudgetCategory>();
    round_trip::<CloseoutStatus>();
    round_trip::<PaymentRequestState>();
    round_trip::<ObligationKind>();
    round_trip::<ActivityKind>();
    round_trip::<ProjectState>();
    round_trip::<OutcomeKind>();
    round_trip::<OrganizationKind>();
    round_trip::<Role>();
    round_trip::<Pillar>();
    round_trip::<TipTier>();
    round_trip::<OutcomeReportState>();
    round_trip::<ReportingStatus>();
    round_trip::<CaseState>();
    round_trip::<CaseUrgency>();
    round_trip::<VictimSex>();
    round_trip::<AgeGroup>();
    round_trip::<TraffickingForm>();
    round_trip::<NeedKind>();
    round_trip::<Grouping>();
    assert_eq!(
        TipTier::from_filter("TIP_TIER_SPECIAL_CASE"),
        Some(TipTier::SpecialCase)
    );
    assert_eq!(
        TipTier::from_filter("tip_tier_2_watch_list"),
        Some(TipTier::Tier2WatchList)
    );
    assert_eq!(Role::from_filter("ROLE_GRANTEE"), Some(Role::Grantee));
}
