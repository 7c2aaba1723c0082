//! Emergency-fund cases as Human Trafficking Case Data Standard (HTCDS, IOM, CC BY 4.0) records:
//! the fields a case holds mapped to the standard's field and value names where it has them, only
//! for victims who consented to be counted in statistics, nothing that identifies anyone (no name,
//! contact, note, exact date, case number, referrer or amount), and released k-anonymous by the k
//! rule's one home (`statistics::Combinations`). The mapping is written out in docs/standards.md.

use super::assistance::{AgeGroup, NeedKind, TraffickingForm, VictimSex};
use super::statistics::Combinations;

/// The released columns, in order: the HTCDS field name where the standard has one, else ours
/// (the standard records a birth date, not a band; it has no year of registration nor services).
pub const COLUMNS: [&str; 6] = [
    "prs_Gender",
    "age_band",
    "prs_Nationality",
    "vic_TypeOfExploitation",
    "year_of_registration",
    "services_received",
];

/// What the export reads of one case: its pseudonymous profile, the fiscal year of its referral,
/// the kinds of need the fund paid for, and the consent. Never anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseProfileFact {
    pub sex: VictimSex,
    pub age_group: AgeGroup,
    /// ISO 3166-1 alpha-2.
    pub nationality: String,
    pub trafficking_form: TraffickingForm,
    pub fiscal_year: i32,
    /// Kinds of the needs with a payment.
    pub services: Vec<NeedKind>,
    pub consent_to_statistics: bool,
}

/// One released record: HTCDS values; a generalised field is empty (`None` for the year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtcdsRecord {
    pub gender: String,
    pub age_band: String,
    pub nationality: String,
    pub types_of_exploitation: Vec<String>,
    pub year_of_registration: Option<i32>,
    pub services_received: Vec<String>,
}

/// What an export releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtcdsRelease {
    /// The columns released empty in every record.
    pub generalised: Vec<&'static str>,
    /// Groups of equal records, each of at least k.
    pub groups: Vec<(HtcdsRecord, i64)>,
    pub released: i64,
    /// Records of consenting victims withheld (still in a group below k).
    pub withheld: i64,
}

/// Separates the values of a multi-valued field inside one combination.
const LIST_SEPARATOR: char = ';';

/// An export being counted: cases are added one by one, then released at once.
#[derive(Debug, Clone, Default)]
pub struct HtcdsExport {
    combinations: Combinations<6>,
}

impl HtcdsExport {
    /// Counts a case; a victim who did not consent to statistics is never counted.
    pub fn add(&mut self, case: &CaseProfileFact) {
        if !case.consent_to_statistics {
            return;
        }
        let mut services: Vec<NeedKind> = case.services.clone();
        services.sort();
        services.dedup();
        self.combinations.add([
            gender(case.sex).to_string(),
            age_band(case.age_group).to_string(),
            case.nationality.clone(),
            types_of_exploitation(case.trafficking_form).join(";"),
            case.fiscal_year.to_string(),
            services
                .iter()
                .map(|kind| service(*kind))
                .collect::<Vec<_>>()
                .join(";"),
        ]);
    }

    /// The records, k-anonymous for `k`.
    pub fn release(&self, k: i64) -> HtcdsRelease {
        let anonymised = self.combinations.anonymise(k);
        let list = |value: &str| -> Vec<String> {
            value
                .split(LIST_SEPARATOR)
                .filter(|item| !item.is_empty())
                .map(String::from)
                .collect()
        };
        let groups: Vec<(HtcdsRecord, i64)> = anonymised
            .groups
            .into_iter()
            .map(|(values, count)| {
                let [gender, age_band, nationality, exploitation, year, services] = values;
                let record = HtcdsRecord {
                    gender,
                    age_band,
                    nationality,
                    types_of_exploitation: list(&exploitation),
                    year_of_registration: year.parse().ok(),
                    services_received: list(&services),
                };
                (record, count)
            })
            .collect();
        HtcdsRelease {
            generalised: COLUMNS
                .iter()
                .zip(anonymised.generalised)
                .filter(|(_, generalised)| *generalised)
                .map(|(column, _)| *column)
                .collect(),
            released: groups.iter().map(|(_, count)| count).sum(),
            groups,
            withheld: anonymised.withheld,
        }
    }
}

/// HTCDS `prs_Gender`: the standard has no value for a sex recorded as "other" that means the
/// same, so it is `Unknown`.
fn gender(sex: VictimSex) -> &'static str {
    match sex {
        VictimSex::Female => "Female",
        VictimSex::Male => "Male",
        VictimSex::Other => "Unknown",
    }
}

/// The broad age band at identification: the server holds child or adult, nothing finer.
fn age_band(age: AgeGroup) -> &'static str {
    match age {
        AgeGroup::Child => "0-17",
        AgeGroup::Adult => "18+",
    }
}

/// HTCDS `vic_TypeOfExploitation` (a multi-select picklist).
fn types_of_exploitation(form: TraffickingForm) -> Vec<&'static str> {
    match form {
        TraffickingForm::Sex => vec!["Sexual exploitation"],
        TraffickingForm::Labour => vec!["Forced labour"],
        TraffickingForm::Both => vec!["Forced labour", "Sexual exploitation"],
        TraffickingForm::Other => vec!["Other"],
    }
}

/// A service received, named like HTCDS names values (CamelCase).
fn service(kind: NeedKind) -> &'static str {
    match kind {
        NeedKind::Medical => "Medical",
        NeedKind::Food => "Food",
        NeedKind::Shelter => "Shelter",
        NeedKind::ReturnTravel => "ReturnTravel",
        NeedKind::Reintegration => "Reintegration",
        NeedKind::Legal => "Legal",
        NeedKind::Other => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(sex: VictimSex, consent: bool) -> CaseProfileFact {
        CaseProfileFact {
            sex,
            age_group: AgeGroup::Adult,
            nationality: "HT".into(),
            trafficking_form: TraffickingForm::Both,
            fiscal_year: 2014,
            services: vec![NeedKind::Food, NeedKind::Medical, NeedKind::Food],
            consent_to_statistics: consent,
        }
    }

    #[test]
    fn only_consenting_victims_are_released_in_htcds_values() {
        let mut export = HtcdsExport::default();
        for _ in 0..11 {
            export.add(&case(VictimSex::Female, true));
            export.add(&case(VictimSex::Male, false));
        }
        let release = export.release(11);
        assert_eq!(release.released, 11);
        assert_eq!(release.withheld, 0);
        assert!(release.generalised.is_empty());
        let (record, count) = &release.groups[0];
        assert_eq!(*count, 11);
        assert_eq!(record.gender, "Female");
        assert_eq!(record.age_band, "18+");
        assert_eq!(
            record.types_of_exploitation,
            ["Forced labour", "Sexual exploitation"]
        );
        assert_eq!(record.year_of_registration, Some(2014));
        assert_eq!(record.services_received, ["Medical", "Food"]);
    }

    #[test]
    fn gender_is_generalised_when_it_alone_splits_groups_below_k() {
        let mut export = HtcdsExport::default();
        for index in 0..20 {
            let sex = [VictimSex::Female, VictimSex::Male][index % 2];
            export.add(&case(sex, true));
        }
        let release = export.release(11);
        assert_eq!(release.generalised, ["prs_Gender"]);
        assert_eq!(release.groups.len(), 1);
        assert_eq!(release.groups[0].0.gender, "");
        assert_eq!(release.released, 20);
    }
}
