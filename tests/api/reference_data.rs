//! Reference data: the shipped ISO 3166-1 list and regions, funding accounts.

use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn the_full_iso_3166_list_ships_with_the_migrations() {
    let app = spawn_app().await;
    let mut client = app.reference_data(app.admin());
    let mut count = 0;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_countries(pb::ListCountriesRequest {
                page_size: 100,
                page_token,
                filter: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        count += page.countries.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let haiti = client
        .get_country(pb::GetCountryRequest {
            name: "countries/HT".into(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(count, 249);
    assert_eq!(haiti.alpha3_code, "HTI");
    assert_eq!(haiti.numeric_code, "332");
    assert_eq!(haiti.region, "regions/WHA");
}

#[tokio::test]
async fn countries_filter_by_region() {
    let app = spawn_app().await;
    let page = app
        .reference_data(app.admin())
        .list_countries(pb::ListCountriesRequest {
            page_size: 500,
            page_token: String::new(),
            filter: "region = AF".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<_> = page
        .countries
        .iter()
        .map(|country| country.alpha2_code.as_str())
        .collect();
    assert!(codes.contains(&"BW") && codes.contains(&"LR") && codes.contains(&"SC"));
    assert!(!codes.contains(&"HT"));
    assert!(
        page.countries
            .iter()
            .all(|country| country.region == "regions/AF")
    );
}

#[tokio::test]
async fn the_six_regional_bureaus_are_listed() {
    let app = spawn_app().await;
    let regions = app
        .reference_data(app.admin())
        .list_regions(pb::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    let codes: Vec<_> = regions.iter().map(|region| region.code.as_str()).collect();
    assert_eq!(codes, vec!["AF", "EAP", "EUR", "NEA", "SCA", "WHA"]);
    let missing = app
        .reference_data(app.admin())
        .get_region(pb::GetRegionRequest {
            name: "regions/XYZ".into(),
        })
        .await;
    expect_code(missing, Code::NotFound);
}

fn create_account(
    code: &str,
    display_name: &str,
    request_id: &str,
) -> pb::CreateFundingAccountRequest {
    pb::CreateFundingAccountRequest {
        funding_account_id: code.into(),
        funding_account: Some(pb::FundingAccount {
            display_name: display_name.into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn funding_accounts_are_created_by_code_and_listed_in_code_order() {
    let app = spawn_app().await;
    let mut client = app.reference_data(app.admin());
    client
        .create_funding_account(create_account(
            "INCLE",
            "International Narcotics Control and Law Enforcement",
            "",
        ))
        .await
        .unwrap();
    let esf = client
        .create_funding_account(create_account("esf", "Economic Support Fund", ""))
        .await
        .unwrap()
        .into_inner();

    let list = client
        .list_funding_accounts(pb::ListFundingAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(esf.name, "fundingAccounts/ESF");
    let codes: Vec<_> = list
        .funding_accounts
        .iter()
        .map(|account| account.code.as_str())
        .collect();
    assert_eq!(codes, vec!["ESF", "INCLE"]);
}

#[tokio::test]
async fn a_duplicate_funding_account_code_already_exists() {
    let app = spawn_app().await;
    let mut client = app.reference_data(app.admin());
    client
        .create_funding_account(create_account("ESF", "Economic Support Fund", ""))
        .await
        .unwrap();
    let duplicate = client
        .create_funding_account(create_account("ESF", "Again", ""))
        .await;
    assert_eq!(
        reason(&expect_code(duplicate, Code::AlreadyExists)),
        "RESOURCE_ALREADY_EXISTS"
    );
}

#[tokio::test]
async fn funding_account_codes_and_names_are_validated() {
    let app = spawn_app().await;
    let mut client = app.reference_data(app.admin());
    expect_invalid(
        client
            .create_funding_account(create_account("E", "", ""))
            .await,
        &["funding_account_id", "funding_account.display_name"],
    );
    expect_invalid(
        client
            .create_funding_account(create_account("ES F", "x", ""))
            .await,
        &["funding_account_id"],
    );
    expect_invalid(
        client
            .create_funding_account(create_account("1ESF", "x", ""))
            .await,
        &["funding_account_id"],
    );
}

#[tokio::test]
async fn a_funding_account_update_and_delete_respect_the_etag() {
    let app = spawn_app().await;
    let mut client = app.reference_data(app.admin());
    let created = client
        .create_funding_account(create_account("ESF", "Economic Support Fund", ""))
        .await
        .unwrap()
        .into_inner();
    let updated = client
        .update_funding_account(pb::UpdateFundingAccountRequest {
            funding_account: Some(pb::FundingAccount {
                name: created.name.clone(),
                description: "Economic and political stability".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let stale = client
        .delete_funding_account(pb::DeleteFundingAccountRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await;
    let deleted = client
        .delete_funding_account(pb::DeleteFundingAccountRequest {
            name: created.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.description, "Economic and political stability");
    assert_eq!(updated.display_name, "Economic Support Fund");
    expect_code(stale, Code::Aborted);
    assert!(deleted.delete_time.is_some());
}
