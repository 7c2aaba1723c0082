//! Reference data shipped with the migrations: the regions (regional bureaus)
//! and the full ISO 3166-1 list of countries, read from the CSV files in
//! `data/` (generated from Debian's iso-codes package).

/// `(code, display_name)` of every region.
pub fn regions() -> Vec<Vec<String>> {
    rows(include_str!("data/regions.csv"))
}

/// `(alpha2, alpha3, numeric, display_name, region_code)` of every country.
pub fn countries() -> Vec<Vec<String>> {
    rows(include_str!("data/countries.csv"))
}

/// The data rows of a small CSV text (header skipped; double-quoted fields may hold commas).
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(split_fields)
        .collect()
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_country_has_five_fields_and_a_known_region() {
        let regions: Vec<String> = super::regions().into_iter().map(|r| r[0].clone()).collect();
        let countries = super::countries();
        assert_eq!(countries.len(), 249);
        for country in &countries {
            assert_eq!(country.len(), 5, "{country:?}");
            assert!(regions.contains(&country[4]), "{country:?}");
        }
        assert!(countries.iter().any(|c| c[0] == "CD" && c[3].contains(',')));
    }
}
