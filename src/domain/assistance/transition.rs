//! The case machine: which transitions each state allows and what deciding
//! one does. The rules kept here: no transition out of a final state; an
//! approval names every need once, within its request, and commits the sum
//! only when the fund's available balance covers it; whoever referred a case
//! or started its review, and the referring organisation, cannot approve it
//! (four eyes); closing or withdrawing releases what was approved and not paid.

use chrono::{DateTime, Utc};

use super::case::{AssistanceCase, CaseState, MAX_NOTE};
use super::fund::FundYear;
use super::referral::past_time;
use crate::domain::access::Actor;
use crate::domain::money::Cents;
use crate::domain::validate::{self, Violations};
use crate::error::{Error, Result};

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
            after.handlers.reviewer = me;
            after.handlers.reviewer_owner = actor.owner.clone();
            None
        }
        CaseTransition::Approve => {
            check_four_eyes(case, actor)?;
            let (approved, decision_time) = check_approvals(case, input, now)?;
            for (need, amount) in after.referral.needs.iter_mut().zip(approved) {
                need.approved = amount;
            }
            after.decision_time = Some(decision_time);
            after.handlers.decider = me;
            after.handlers.decider_owner = actor.owner.clone();
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
            after.handlers.decider = me;
            after.handlers.decider_owner = actor.owner.clone();
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
    let refusal = if actor.is_person(&case.handlers.referrer, &case.handlers.referrer_owner) {
        Some(
            "the person who referred a case cannot approve it, with any of their tokens: another case worker decides",
        )
    } else if actor.is_person(&case.handlers.reviewer, &case.handlers.reviewer_owner) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::assistance::testing::{actor, approve, case, fund, time};
    use CaseTransition::{Approve, Deny, StartReview};

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
        case.handlers.reviewer = "apiTokens/w1".into();
        case.handlers.reviewer_owner = "w1@example.org".into();
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
    fn the_undecided_states_are_those_a_review_or_a_decision_can_still_leave() {
        let decisions = [StartReview, Approve, Deny];
        let undecided: Vec<CaseState> = CaseState::ALL
            .iter()
            .copied()
            .filter(|state| decisions.iter().any(|step| step.target(*state).is_some()))
            .collect();
        assert_eq!(undecided, CaseState::UNDECIDED);
    }
}
