//! What the unit tests of the assistance domain share: a fixed time, actors,
//! a case of FY 2014 with two needs, a fund, an approval.

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::access::{Actor, Role};
use crate::domain::money::Cents;
use crate::domain::version::Stamps;
use crate::error::Result;

pub(crate) fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn actor(id: &str, role: Role, organization: Option<&str>) -> Actor {
    Actor {
        token_id: id.into(),
        role,
        organization_id: organization.map(str::to_string),
        owner: format!("{id}@example.org"),
    }
}

pub(crate) fn case(state: CaseState) -> AssistanceCase {
    let need = |number: i32, kind, requested: i64| Need {
        number,
        kind,
        description: "what".into(),
        requested: Cents(requested),
        approved: Cents(0),
        paid: Cents(0),
    };
    AssistanceCase {
        state,
        ..AssistanceCase::referred(
            "c1".into(),
            case_number(2014, 7),
            2014,
            Referral {
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
            time("2014-03-01T08:00:00Z"),
            ("apiTokens/grantee".into(), "grantee@example.org".into()),
            Stamps::new(time("2014-03-01T08:00:00Z")),
        )
    }
}

pub(crate) fn fund(allocated: i64) -> FundYear {
    FundYear {
        allocated: Cents(allocated),
        ..FundYear::empty(2014)
    }
}

pub(crate) fn approve(
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
