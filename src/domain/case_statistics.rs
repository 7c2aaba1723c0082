//! Statistics of emergency assistance cases: the fund's figures in
//! fiscal-year reports and the summary of one fiscal year. Only victims who
//! consented to statistics count, anywhere: in cases, in victims and in
//! amounts; a victim who declined is in no figure, so no figure singles
//! them out. A counted case belongs to one part, (fiscal year, country,
//! referring organisation, stage), the stage being how far its money went:
//! nothing approved, approved and not paid, paid (a victim helped). Every
//! figure of cases and money is a sum of whole parts, and the report's
//! figures of a year, or the summary's headline, are decided together by
//! [`Disclosure`]: the cases beside the victims helped among them, or the
//! amounts approved beside those paid, never give back a small stage. A
//! breakdown of the summary (by state, urgency, need, country, sex, age
//! group, form of trafficking) splits those parts further by its category
//! and is shown whole, only beside a shown headline, or withheld whole: a
//! total beside all categories but one would give the last one back.

use chrono::{DateTime, Utc};

use super::assistance::{
    AgeGroup, AssistanceCase, CaseState, CaseUrgency, NeedKind, TraffickingForm, VictimSex,
};
use super::money::Cents;
use super::statistics::{Disclosure, People, Published};

/// One emergency-assistance case, without anything personal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFact {
    /// The fiscal year of its referral.
    pub fiscal_year: i32,
    pub referring_organization_id: String,
    pub country_code: String,
    pub region_code: String,
    pub requested_cents: i64,
    pub approved_cents: i64,
    pub paid_cents: i64,
    pub consent_to_statistics: bool,
}

/// How far a case's money went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    NotApproved,
    ApprovedNotPaid,
    /// Paid at least once: a victim helped.
    Paid,
}

impl Stage {
    fn of(approved_cents: i64, paid_cents: i64) -> Stage {
        if paid_cents > 0 {
            Stage::Paid
        } else if approved_cents > 0 {
            Stage::ApprovedNotPaid
        } else {
            Stage::NotApproved
        }
    }

    fn code(self) -> &'static str {
        match self {
            Stage::NotApproved => "not-approved",
            Stage::ApprovedNotPaid => "approved",
            Stage::Paid => "paid",
        }
    }
}

/// A case as statistics count it: its part and its money.
#[derive(Debug, Clone)]
struct Counted {
    part: String,
    stage: Stage,
    requested_cents: i64,
    approved_cents: i64,
    paid_cents: i64,
}

impl Counted {
    /// The case counted, or `None` when its victim did not consent to statistics: the one
    /// place that decides who counts.
    fn of(fact: &CaseFact) -> Option<Counted> {
        if !fact.consent_to_statistics {
            return None;
        }
        let stage = Stage::of(fact.approved_cents, fact.paid_cents);
        Some(Counted {
            part: format!(
                "{}/{}/{}/{}",
                fact.fiscal_year,
                fact.country_code,
                fact.referring_organization_id,
                stage.code()
            ),
            stage,
            requested_cents: fact.requested_cents,
            approved_cents: fact.approved_cents,
            paid_cents: fact.paid_cents,
        })
    }

    /// Its part split by `category` (a breakdown's).
    fn part_in(&self, category: &str) -> String {
        format!("{}/{category}", self.part)
    }
}

impl CaseFact {
    /// The facts of a stored case (the region is not needed by the summary and left empty).
    pub fn of_case(case: &AssistanceCase) -> CaseFact {
        CaseFact {
            fiscal_year: case.fiscal_year,
            referring_organization_id: case.referral.referring_organization_id.clone(),
            country_code: case.referral.country_code.clone(),
            region_code: String::new(),
            requested_cents: case.requested().0,
            approved_cents: case.approved().0,
            paid_cents: case.paid().0,
            consent_to_statistics: case.referral.consent_to_statistics,
        }
    }
}

/// The figures of some counted cases, shown together or withheld together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FundFigures {
    /// Cases of victims who consented to statistics.
    pub cases: i64,
    /// Those paid at least once.
    pub victims_helped: i64,
    pub requested_cents: i64,
    pub approved_cents: i64,
    pub paid_cents: i64,
}

/// Cases being added up: their figures and their parts.
#[derive(Debug, Clone, Default)]
pub struct FundTally {
    people: People,
    figures: FundFigures,
}

impl FundTally {
    /// Counts `case`, unless its victim did not consent to statistics.
    pub fn add(&mut self, case: &CaseFact) {
        if let Some(counted) = Counted::of(case) {
            self.add_counted(&counted);
        }
    }

    fn add_counted(&mut self, counted: &Counted) {
        self.people.add(counted.part.clone(), 1);
        let figures = &mut self.figures;
        figures.cases += 1;
        figures.victims_helped += i64::from(counted.stage == Stage::Paid);
        figures.requested_cents = figures
            .requested_cents
            .saturating_add(counted.requested_cents);
        figures.approved_cents = figures
            .approved_cents
            .saturating_add(counted.approved_cents);
        figures.paid_cents = figures.paid_cents.saturating_add(counted.paid_cents);
    }

    /// Adds every case of `other`.
    pub fn merge(&mut self, other: &FundTally) {
        self.people.merge(&other.people);
        let (figures, more) = (&mut self.figures, other.figures);
        figures.cases += more.cases;
        figures.victims_helped += more.victims_helped;
        figures.requested_cents = figures.requested_cents.saturating_add(more.requested_cents);
        figures.approved_cents = figures.approved_cents.saturating_add(more.approved_cents);
        figures.paid_cents = figures.paid_cents.saturating_add(more.paid_cents);
    }

    /// The figures, all shown or all withheld.
    pub fn publish(&self, disclosure: Disclosure) -> Published<FundFigures> {
        disclosure.publish(&self.people, || self.figures)
    }
}

/// Cases of one group and their money.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseCount {
    pub cases: i64,
    pub approved: Cents,
    pub paid: Cents,
}

/// Needs of one kind and their money.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedCount {
    pub needs: i64,
    pub requested: Cents,
    pub approved: Cents,
    pub paid: Cents,
}

/// The emergency assistance of one fiscal year, as `disclosure` lets a caller see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub fiscal_year: i32,
    pub disclosure: Disclosure,
    /// Cases, victims helped and money of the consenting victims' cases.
    pub totals: Published<FundFigures>,
    pub by_state: Published<Vec<(CaseState, CaseCount)>>,
    pub by_urgency: Published<Vec<(CaseUrgency, CaseCount)>>,
    pub by_country: Published<Vec<(String, CaseCount)>>,
    /// Kinds without needs left out.
    pub by_need: Published<Vec<(NeedKind, NeedCount)>>,
    pub victims_by_sex: Published<Vec<(VictimSex, i64)>>,
    pub victims_by_age_group: Published<Vec<(AgeGroup, i64)>>,
    pub victims_by_trafficking_form: Published<Vec<(TraffickingForm, i64)>>,
    /// Victims who did not consent to be counted: only for those who see every case.
    pub victims_not_counted: Published<i64>,
    /// (median hours, cases measured): the decided cases, decided with `by_state`.
    pub to_decision: Published<(f64, i64)>,
    /// (median hours, cases measured): the paid cases, decided with `totals`.
    pub to_first_payment: Published<(f64, i64)>,
}

/// The median of some hours; 0 when there are none.
pub fn median(mut hours: Vec<f64>) -> f64 {
    if hours.is_empty() {
        return 0.0;
    }
    hours.sort_by(f64::total_cmp);
    let middle = hours.len() / 2;
    if hours.len() % 2 == 1 {
        hours[middle]
    } else {
        (hours[middle - 1] + hours[middle]) / 2.0
    }
}

fn hours_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_seconds() as f64 / 3600.0
}

/// Groups of one category (a state, an urgency, a sex ...): their exact figures, and the
/// parts they split the counted cases into.
struct Breakdown<K, V> {
    groups: Vec<(K, V)>,
    people: People,
}

impl<K: PartialEq + Copy + std::fmt::Display, V: Default> Breakdown<K, V> {
    /// Every value of the category, in order, each with nothing yet.
    fn of(all: &[K]) -> Self {
        Breakdown {
            groups: all.iter().map(|key| (*key, V::default())).collect(),
            people: People::default(),
        }
    }

    /// Adds the counted case to the group `key` with `add`.
    fn add(&mut self, key: K, counted: &Counted, add: impl FnOnce(&mut V)) {
        self.people.add(counted.part_in(&key.to_string()), 1);
        if let Some((_, value)) = self.groups.iter_mut().find(|(group, _)| *group == key) {
            add(value);
        }
    }

    /// The groups, shown when the headline is and none of their parts is small.
    fn publish(self, headline: bool, disclosure: Disclosure) -> Published<Vec<(K, V)>> {
        Published::shown_if(headline && disclosure.shows(&self.people), self.groups)
    }
}

fn add_case_money(count: &mut CaseCount, counted: &Counted) {
    count.cases += 1;
    count.approved = Cents(count.approved.0.saturating_add(counted.approved_cents));
    count.paid = Cents(count.paid.0.saturating_add(counted.paid_cents));
}

/// Summarises the cases referred in one fiscal year for a caller who sees them under
/// `disclosure`. Only victims who consented to be counted count (see the module's rules).
pub fn summarize(fiscal_year: i32, cases: &[AssistanceCase], disclosure: Disclosure) -> Summary {
    let mut totals = FundTally::default();
    let mut by_state = Breakdown::<CaseState, CaseCount>::of(CaseState::ALL);
    let mut by_urgency = Breakdown::<CaseUrgency, CaseCount>::of(CaseUrgency::ALL);
    let mut by_need = Breakdown::<NeedKind, NeedCount>::of(NeedKind::ALL);
    let mut by_sex = Breakdown::<VictimSex, i64>::of(VictimSex::ALL);
    let mut by_age = Breakdown::<AgeGroup, i64>::of(AgeGroup::ALL);
    let mut by_form = Breakdown::<TraffickingForm, i64>::of(TraffickingForm::ALL);
    let mut by_country: std::collections::BTreeMap<String, CaseCount> = Default::default();
    let (mut to_decision, mut to_payment) = (Vec::new(), Vec::new());
    let mut not_counted = 0;
    for case in cases {
        let Some(counted) = Counted::of(&CaseFact::of_case(case)) else {
            not_counted += 1;
            continue;
        };
        totals.add_counted(&counted);
        by_state.add(case.state, &counted, |count| {
            add_case_money(count, &counted)
        });
        by_urgency.add(case.referral.urgency, &counted, |count| {
            add_case_money(count, &counted)
        });
        add_case_money(
            by_country
                .entry(case.referral.country_code.clone())
                .or_default(),
            &counted,
        );
        let mut kinds: Vec<NeedKind> = case.referral.needs.iter().map(|n| n.kind).collect();
        kinds.sort();
        kinds.dedup();
        // A need kind counts the case once, however many needs of that kind it has.
        for kind in kinds {
            by_need.add(kind, &counted, |count| {
                for need in case.referral.needs.iter().filter(|need| need.kind == kind) {
                    count.needs += 1;
                    count.requested = Cents(count.requested.0.saturating_add(need.requested.0));
                    count.approved = Cents(count.approved.0.saturating_add(need.approved.0));
                    count.paid = Cents(count.paid.0.saturating_add(need.paid.0));
                }
            });
        }
        let victim = &case.referral.victim;
        by_sex.add(victim.sex, &counted, |count| *count += 1);
        by_age.add(victim.age_group, &counted, |count| *count += 1);
        by_form.add(victim.trafficking_form, &counted, |count| *count += 1);
        if let Some(decided) = case.decision_time {
            to_decision.push(hours_between(case.referral_time, decided));
        }
        if let Some(paid) = case.first_payment_time {
            to_payment.push(hours_between(case.referral_time, paid));
        }
    }
    let headline = disclosure.shows(&totals.people);
    by_need.groups.retain(|(_, count)| count.needs > 0);
    let decided = to_decision.len() as i64;
    let by_state = by_state.publish(headline, disclosure);
    // The decided cases are whole parts of the breakdown by state (denied, approved, closed,
    // withdrawn after an approval): their figures go with it.
    let to_decision = Published::shown_if(
        matches!(by_state, Published::Shown(_)),
        (median(to_decision), decided),
    );
    let paid = to_payment.len() as i64;
    Summary {
        fiscal_year,
        disclosure,
        totals: totals.publish(disclosure),
        by_state,
        by_urgency: by_urgency.publish(headline, disclosure),
        // Its parts are the headline's own.
        by_country: Published::shown_if(headline, by_country.into_iter().collect()),
        by_need: by_need.publish(headline, disclosure),
        victims_by_sex: by_sex.publish(headline, disclosure),
        victims_by_age_group: by_age.publish(headline, disclosure),
        victims_by_trafficking_form: by_form.publish(headline, disclosure),
        // Counting those who declined to be counted is what they declined.
        victims_not_counted: match disclosure {
            Disclosure::Exact => Published::Shown(not_counted),
            Disclosure::Published { .. } => Published::Suppressed,
        },
        // Whole parts of the headline (the paid stage).
        to_first_payment: Published::shown_if(headline, (median(to_payment), paid)),
        to_decision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assistance::testing::time;
    use crate::domain::assistance::{CaseHandlers, Need, Referral, VictimProfile};
    use crate::domain::version::Stamps;

    /// A case of FY 2014 in `country` by `organization`, approved and paid as given.
    fn case(country: &str, organization: &str, approved: i64, paid: i64) -> AssistanceCase {
        AssistanceCase {
            id: "c".into(),
            case_number: "EAF-2014-0000-0001".into(),
            fiscal_year: 2014,
            referral: Referral {
                referring_organization_id: organization.into(),
                country_code: country.into(),
                victim: VictimProfile {
                    sex: VictimSex::Female,
                    age_group: AgeGroup::Adult,
                    nationality: country.into(),
                    trafficking_form: TraffickingForm::Labour,
                },
                urgency: CaseUrgency::High,
                consent_to_services: true,
                consent_to_statistics: true,
                needs: vec![Need {
                    number: 1,
                    kind: NeedKind::Medical,
                    description: "care".into(),
                    requested: Cents(60_000),
                    approved: Cents(approved),
                    paid: Cents(paid),
                }],
            },
            state: if approved > 0 {
                CaseState::Approved
            } else {
                CaseState::UnderReview
            },
            referral_time: time("2014-03-01T08:00:00Z"),
            decision_time: (approved > 0).then(|| time("2014-03-02T08:00:00Z")),
            first_payment_time: (paid > 0).then(|| time("2014-03-03T08:00:00Z")),
            close_time: None,
            state_reason: String::new(),
            outcome: String::new(),
            handlers: CaseHandlers::default(),
            personal_data_fields: vec![],
            stamps: Stamps::new(time("2014-03-01T08:00:00Z")),
        }
    }

    fn many(count: usize, case: AssistanceCase) -> Vec<AssistanceCase> {
        vec![case; count]
    }

    const K: Disclosure = Disclosure::Published { threshold: 11 };

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn statistics_count_only_victims_who_consented_and_say_how_many_did_not_to_those_who_see_every_case()
     {
        let mut cases = many(12, case("HT", "o1", 50_000, 40_000));
        let mut declined = case("HT", "o1", 70_000, 70_000);
        declined.referral.consent_to_statistics = false;
        declined.referral.victim.sex = VictimSex::Male;
        cases.push(declined);

        let exact = summarize(2014, &cases, Disclosure::Exact);
        let published = summarize(2014, &cases, K);

        let twelve = FundFigures {
            cases: 12,
            victims_helped: 12,
            requested_cents: 720_000,
            approved_cents: 600_000,
            paid_cents: 480_000,
        };
        assert_eq!(exact.totals, Published::Shown(twelve));
        assert_eq!(published.totals, Published::Shown(twelve));
        assert_eq!(exact.victims_not_counted, Published::Shown(1));
        assert_eq!(published.victims_not_counted, Published::Suppressed);
        let sexes = Published::Shown(vec![
            (VictimSex::Female, 12),
            (VictimSex::Male, 0),
            (VictimSex::Other, 0),
        ]);
        assert_eq!(published.victims_by_sex, sexes);
        assert_eq!(published.to_decision, Published::Shown((24.0, 12)));
        assert_eq!(published.to_first_payment, Published::Shown((48.0, 12)));
    }

    #[test]
    fn a_small_part_withholds_the_headline_and_every_breakdown_but_not_for_those_who_see_every_case()
     {
        let mut cases = many(12, case("HT", "o1", 50_000, 40_000));
        cases.extend(many(3, case("DO", "o1", 50_000, 40_000)));

        let exact = summarize(2014, &cases, Disclosure::Exact);
        let published = summarize(2014, &cases, K);

        assert_eq!(published.totals, Published::Suppressed);
        assert_eq!(published.by_country, Published::Suppressed);
        assert_eq!(published.by_state, Published::Suppressed);
        assert_eq!(published.victims_by_sex, Published::Suppressed);
        assert_eq!(published.to_decision, Published::Suppressed);
        assert_eq!(published.to_first_payment, Published::Suppressed);
        assert_eq!(exact.totals.shown().map(|figures| figures.cases), Some(15));
    }

    #[test]
    fn a_small_stage_withholds_the_figures_that_would_give_it_back_and_a_small_category_its_whole_breakdown()
     {
        // 12 paid and 2 approved, not paid: 14 beside 12 helped would give the 2 back.
        let mut waiting = many(12, case("HT", "o1", 50_000, 40_000));
        waiting.extend(many(2, case("HT", "o1", 50_000, 0)));
        // 24 cases in two large stages, one of them a man: the sexes are withheld, not the rest.
        let mut one_man = many(12, case("HT", "o1", 50_000, 40_000));
        one_man.extend(many(12, case("HT", "o1", 0, 0)));
        one_man[0].referral.victim.sex = VictimSex::Male;

        let waiting = summarize(2014, &waiting, K);
        let one_man = summarize(2014, &one_man, K);

        assert_eq!(waiting.totals, Published::Suppressed);
        assert_eq!(
            one_man.totals.shown().map(|figures| figures.victims_helped),
            Some(12)
        );
        assert_eq!(one_man.victims_by_sex, Published::Suppressed);
        assert!(matches!(one_man.victims_by_age_group, Published::Shown(_)));
        assert!(matches!(one_man.by_state, Published::Shown(_)));
    }
}
