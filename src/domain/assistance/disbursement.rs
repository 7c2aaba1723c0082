//! Payments against an approved case, each for one need. The rule kept
//! here: a payment is at most what remains approved for its need, and only
//! an APPROVED case takes payments.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::case::{AssistanceCase, CaseState, NeedKind};
use super::fund::FundYear;
use super::referral::past_time;
use crate::domain::money::Cents;
use crate::domain::names::DisbursementName;
use crate::domain::validate::positive_amount;
use crate::domain::validate::{self, CheckAll};
use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assistance::testing::{case, fund, time};

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
}
