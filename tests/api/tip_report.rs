//! The TIP Report: tiers per country and report year, recommendations by
//! pillar, lists across every country, etags, soft delete, audit events.

use std::collections::HashSet;

use tipgrants::domain::access::Actor;
use tipgrants::store::CallContext;
use tonic::Code;

use crate::helpers::*;

fn ranking_request(
    parent: &str,
    report_year: i32,
    tier: pb::TipTier,
) -> pb::CreateTipRankingRequest {
    pb::CreateTipRankingRequest {
        parent: parent.into(),
        report_year,
        tip_ranking: Some(pb::TipRanking {
            tier: tier as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

fn recommendation_request(
    parent: &str,
    report_year: i32,
    pillar: pb::Pillar,
    text: &str,
) -> pb::CreateTipRecommendationRequest {
    pb::CreateTipRecommendationRequest {
        parent: parent.into(),
        tip_recommendation: Some(pb::TipRecommendation {
            report_year,
            pillar: pillar as i32,
            text: text.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| path.to_string()).collect(),
    })
}

async fn rank(app: &TestApp, country: &str, report_year: i32, tier: pb::TipTier) -> pb::TipRanking {
    app.tip_report(app.admin())
        .create_tip_ranking(ranking_request(
            &format!("countries/{country}"),
            report_year,
            tier,
        ))
        .await
        .unwrap_or_else(|status| panic!("rank {country} {report_year}: {status:?}"))
        .into_inner()
}

async fn recommend(
    app: &TestApp,
    country: &str,
    report_year: i32,
    pillar: pb::Pillar,
    text: &str,
) -> pb::TipRecommendation {
    app.tip_report(app.admin())
        .create_tip_recommendation(recommendation_request(
            &format!("countries/{country}"),
            report_year,
            pillar,
            text,
        ))
        .await
        .unwrap_or_else(|status| panic!("recommend {country}: {status:?}"))
        .into_inner()
}

/// Every ranking of a list, page after page; also returns how many pages it took.
async fn all_rankings(
    app: &TestApp,
    parent: &str,
    filter: &str,
    page_size: i32,
) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .tip_report(app.admin())
            .list_tip_rankings(pb::ListTipRankingsRequest {
                parent: parent.into(),
                page_size,
                page_token,
                filter: filter.into(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.tip_rankings.len() <= page_size as usize);
        names.extend(page.tip_rankings.into_iter().map(|ranking| ranking.name));
        if page.next_page_token.is_empty() {
            return (names, pages);
        }
        page_token = page.next_page_token;
    }
}

/// Every recommendation of a list, page after page.
async fn all_recommendations(
    app: &TestApp,
    parent: &str,
    filter: &str,
    show_deleted: bool,
) -> Vec<pb::TipRecommendation> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .tip_report(app.admin())
            .list_tip_recommendations(pb::ListTipRecommendationsRequest {
                parent: parent.into(),
                page_size: 2,
                page_token,
                filter: filter.into(),
                show_deleted,
            })
            .await
            .unwrap()
            .into_inner();
        found.extend(page.tip_recommendations);
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

fn method_of(event: &pb::AuditEvent) -> &str {
    event.method.rsplit('/').next().unwrap_or_default()
}

fn changed_fields(event: &pb::AuditEvent) -> Vec<String> {
    let mut fields: Vec<String> = event
        .diff
        .as_ref()
        .map(|diff| diff.fields.keys().cloned().collect())
        .unwrap_or_default();
    fields.sort();
    fields
}

#[tokio::test]
async fn an_admin_records_a_tier_and_every_role_reads_it_back() {
    let app = spawn_app().await;
    let grantee_organization = app.organization("Reader NGO", "HT").await;
    let grantee = app
        .token(pb::Role::Grantee, &grantee_organization.name)
        .await;
    let auditor = app.token(pb::Role::Auditor, "").await;

    let created = app
        .tip_report(app.admin())
        .create_tip_ranking(ranking_request(
            "countries/ht",
            2014,
            pb::TipTier::TipTier2WatchList,
        ))
        .await
        .unwrap()
        .into_inner();
    let read = app
        .tip_report(Some(&grantee))
        .get_tip_ranking(pb::GetTipRankingRequest {
            name: "countries/HT/tipRankings/2014".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = app
        .tip_report(Some(&auditor))
        .list_tip_rankings(pb::ListTipRankingsRequest {
            parent: "countries/HT".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(created.name, "countries/HT/tipRankings/2014");
    assert_eq!(created.country_code, "HT");
    assert_eq!(created.report_year, 2014);
    assert_eq!(created.tier, pb::TipTier::TipTier2WatchList as i32);
    assert_eq!(created.etag, "1");
    assert!(created.create_time.is_some());
    assert_eq!(read, created);
    assert_eq!(listed.tip_rankings, vec![created]);
    assert!(listed.next_page_token.is_empty());
}

#[tokio::test]
async fn a_second_tier_for_the_same_country_and_year_already_exists() {
    let app = spawn_app().await;
    rank(&app, "HT", 2014, pb::TipTier::TipTier2WatchList).await;

    let duplicate = app
        .tip_report(app.admin())
        .create_tip_ranking(ranking_request("countries/HT", 2014, pb::TipTier::TipTier3))
        .await;

    let status = expect_code(duplicate, Code::AlreadyExists);
    assert_eq!(reason(&status), "RESOURCE_ALREADY_EXISTS");
    let read = app
        .tip_report(app.admin())
        .get_tip_ranking(pb::GetTipRankingRequest {
            name: "countries/HT/tipRankings/2014".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        read.tier,
        pb::TipTier::TipTier2WatchList as i32,
        "the first tier stands"
    );
}

#[tokio::test]
async fn a_tier_for_an_unknown_or_malformed_country_is_refused_naming_the_parent() {
    let app = spawn_app().await;
    let mut client = app.tip_report(app.admin());

    let unknown = client
        .create_tip_ranking(ranking_request("countries/XX", 2014, pb::TipTier::TipTier1))
        .await;
    let malformed = client
        .create_tip_ranking(ranking_request("HT", 2014, pb::TipTier::TipTier1))
        .await;
    let every_country = client
        .create_tip_ranking(ranking_request("countries/-", 2014, pb::TipTier::TipTier1))
        .await;

    expect_invalid(unknown, &["parent"]);
    expect_invalid(malformed, &["parent"]);
    expect_invalid(every_country, &["parent"]);
}

#[tokio::test]
async fn a_year_outside_2001_to_2100_and_an_unspecified_tier_are_named_at_once() {
    let app = spawn_app().await;
    let mut client = app.tip_report(app.admin());

    let both = client
        .create_tip_ranking(ranking_request(
            "countries/HT",
            2000,
            pb::TipTier::Unspecified,
        ))
        .await;
    let too_late = client
        .create_tip_ranking(ranking_request("countries/HT", 2101, pb::TipTier::TipTier1))
        .await;
    let missing_year = client
        .create_tip_ranking(ranking_request("countries/HT", 0, pb::TipTier::TipTier1))
        .await;
    let missing_ranking = client
        .create_tip_ranking(pb::CreateTipRankingRequest {
            parent: "countries/HT".into(),
            report_year: 2014,
            tip_ranking: None,
            request_id: String::new(),
        })
        .await;
    let first_and_last = [
        client
            .create_tip_ranking(ranking_request("countries/HT", 2001, pb::TipTier::TipTier1))
            .await,
        client
            .create_tip_ranking(ranking_request("countries/HT", 2100, pb::TipTier::TipTier1))
            .await,
    ];

    expect_invalid(both, &["report_year", "tip_ranking.tier"]);
    expect_invalid(too_late, &["report_year"]);
    expect_invalid(missing_year, &["report_year"]);
    expect_invalid(missing_ranking, &["tip_ranking"]);
    for accepted in first_and_last {
        assert!(accepted.is_ok(), "{accepted:?}");
    }
}

#[tokio::test]
async fn rankings_across_every_country_filter_by_region_and_year_across_pages_without_gaps_or_repeats()
 {
    let app = spawn_app().await;
    // Southern Africa (AF) and the Western Hemisphere (WHA), three report years each.
    for country in ["ZW", "BW", "NA", "MW", "HT", "PE"] {
        for year in [2013, 2014, 2015] {
            rank(&app, country, year, pb::TipTier::TipTier2).await;
        }
    }

    let (african_2014, pages_2014) =
        all_rankings(&app, "countries/-", "region = AF AND report_year = 2014", 3).await;
    let (african, pages) = all_rankings(&app, "countries/-", "region = AF", 5).await;
    let (every, _) = all_rankings(&app, "countries/-", "", 4).await;

    assert_eq!(
        african_2014,
        vec![
            "countries/BW/tipRankings/2014",
            "countries/MW/tipRankings/2014",
            "countries/NA/tipRankings/2014",
            "countries/ZW/tipRankings/2014",
        ]
    );
    assert_eq!(pages_2014, 2);
    let mut expected = Vec::new();
    for country in ["BW", "MW", "NA", "ZW"] {
        for year in [2013, 2014, 2015] {
            expected.push(format!("countries/{country}/tipRankings/{year}"));
        }
    }
    assert_eq!(
        african, expected,
        "by country, then year; pages split countries"
    );
    assert_eq!(pages, 3);
    assert_eq!(every.len(), 18);
    assert_eq!(every.iter().collect::<HashSet<_>>().len(), 18, "no repeats");
    assert!(every.windows(2).all(|pair| {
        let key = |name: &str| {
            let parts: Vec<_> = name.split('/').collect();
            (parts[1].to_string(), parts[3].parse::<i32>().unwrap())
        };
        key(&pair[0]) < key(&pair[1])
    }));
}

#[tokio::test]
async fn rankings_filter_by_tier_and_a_page_token_stays_with_its_parent_and_filter() {
    let app = spawn_app().await;
    rank(&app, "HT", 2014, pb::TipTier::TipTier2WatchList).await;
    rank(&app, "HT", 2015, pb::TipTier::TipTier2).await;
    rank(&app, "MV", 2014, pb::TipTier::TipTier2WatchList).await;
    rank(&app, "PG", 2014, pb::TipTier::TipTier3).await;
    rank(&app, "BS", 2014, pb::TipTier::TipTier2WatchList).await;

    let (watch_list, _) = all_rankings(&app, "countries/-", "tier = TIER_2_WATCH_LIST", 2).await;
    let (prefixed, _) = all_rankings(&app, "countries/-", "tier = TIP_TIER_3", 2).await;
    let first = app
        .tip_report(app.admin())
        .list_tip_rankings(pb::ListTipRankingsRequest {
            parent: "countries/-".into(),
            page_size: 1,
            page_token: String::new(),
            filter: "tier = TIER_2_WATCH_LIST".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let other_parent = app
        .tip_report(app.admin())
        .list_tip_rankings(pb::ListTipRankingsRequest {
            parent: "countries/HT".into(),
            page_size: 1,
            page_token: first.next_page_token.clone(),
            filter: "tier = TIER_2_WATCH_LIST".into(),
        })
        .await;

    assert_eq!(
        watch_list,
        vec![
            "countries/BS/tipRankings/2014",
            "countries/HT/tipRankings/2014",
            "countries/MV/tipRankings/2014",
        ]
    );
    assert_eq!(prefixed, vec!["countries/PG/tipRankings/2014"]);
    expect_invalid(other_parent, &["page_token"]);
}

#[tokio::test]
async fn bad_list_arguments_name_their_field_and_an_unknown_country_is_not_found() {
    let app = spawn_app().await;
    let mut client = app.tip_report(app.admin());
    let list = |parent: &str, filter: &str| pb::ListTipRankingsRequest {
        parent: parent.into(),
        filter: filter.into(),
        ..Default::default()
    };

    let no_parent = client.list_tip_rankings(list("", "")).await;
    let unknown_field = client
        .list_tip_rankings(list("countries/-", "pillar = PROTECTION"))
        .await;
    let unknown_tier = client
        .list_tip_rankings(list("countries/-", "tier = TIER_4"))
        .await;
    let bad_year = client
        .list_tip_rankings(list("countries/-", "report_year = soon"))
        .await;
    let unknown_region = client
        .list_tip_rankings(list("countries/-", "region = MARS"))
        .await;
    let unknown_country = client.list_tip_rankings(list("countries/XX", "")).await;
    let missing = client
        .get_tip_ranking(pb::GetTipRankingRequest {
            name: "countries/HT/tipRankings/2014".into(),
        })
        .await;
    let malformed = client
        .get_tip_ranking(pb::GetTipRankingRequest {
            name: "countries/HT/tipRankings/latest".into(),
        })
        .await;
    let bad_pillar = client
        .list_tip_recommendations(pb::ListTipRecommendationsRequest {
            parent: "countries/-".into(),
            filter: "pillar = PUNISHMENT".into(),
            ..Default::default()
        })
        .await;

    expect_invalid(no_parent, &["parent"]);
    expect_invalid(unknown_field, &["filter"]);
    expect_invalid(unknown_tier, &["filter"]);
    expect_invalid(bad_year, &["filter"]);
    expect_invalid(unknown_region, &["filter"]);
    expect_code(unknown_country, Code::NotFound);
    let status = expect_code(missing, Code::NotFound);
    assert_eq!(status.message(), "countries/HT/tipRankings/2014 not found");
    expect_invalid(malformed, &["name"]);
    expect_invalid(bad_pillar, &["filter"]);
}

#[tokio::test]
async fn a_tier_update_changes_the_tier_moves_the_etag_and_a_stale_etag_is_aborted() {
    let app = spawn_app().await;
    let created = rank(&app, "HT", 2014, pb::TipTier::TipTier2WatchList).await;
    let update = |tier: pb::TipTier, etag: &str, paths: &[&str]| pb::UpdateTipRankingRequest {
        tip_ranking: Some(pb::TipRanking {
            name: created.name.clone(),
            tier: tier as i32,
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(paths),
    };
    let mut client = app.tip_report(app.admin());

    let updated = client
        .update_tip_ranking(update(pb::TipTier::TipTier2, &created.etag, &["tier"]))
        .await
        .unwrap()
        .into_inner();
    let stale = client
        .update_tip_ranking(update(pb::TipTier::TipTier3, &created.etag, &["tier"]))
        .await;
    let no_mask = client
        .update_tip_ranking(update(pb::TipTier::TipTier3, "", &[]))
        .await;
    let year_mask = client
        .update_tip_ranking(update(pb::TipTier::TipTier3, "", &["report_year"]))
        .await;
    let unspecified = client
        .update_tip_ranking(update(pb::TipTier::Unspecified, "", &["tier"]))
        .await;
    let read = client
        .get_tip_ranking(pb::GetTipRankingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.tier, pb::TipTier::TipTier2 as i32);
    assert_eq!(updated.report_year, 2014);
    assert_ne!(updated.etag, created.etag);
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
    expect_invalid(no_mask, &["update_mask"]);
    expect_invalid(year_mask, &["update_mask"]);
    expect_invalid(unspecified, &["tip_ranking.tier"]);
    assert_eq!(read, updated);
}

#[tokio::test]
async fn only_an_admin_manages_the_tip_report() {
    let app = spawn_app().await;
    let officer = app.token(pb::Role::ProgramOfficer, "").await;

    let ranking = app
        .tip_report(Some(&officer))
        .create_tip_ranking(ranking_request("countries/HT", 2014, pb::TipTier::TipTier1))
        .await;
    let recommendation = app
        .tip_report(Some(&officer))
        .create_tip_recommendation(recommendation_request(
            "countries/HT",
            2014,
            pb::Pillar::Protection,
            "Fund shelters",
        ))
        .await;

    expect_code(ranking, Code::PermissionDenied);
    expect_code(recommendation, Code::PermissionDenied);
}

#[tokio::test]
async fn an_admin_records_a_recommendation_named_under_its_country() {
    let app = spawn_app().await;
    let grantee_organization = app.organization("Reader NGO", "HT").await;
    let grantee = app
        .token(pb::Role::Grantee, &grantee_organization.name)
        .await;

    let created = recommend(
        &app,
        "ht",
        2014,
        pb::Pillar::Prosecution,
        "  Enact a comprehensive anti-trafficking law.  ",
    )
    .await;
    let read = app
        .tip_report(Some(&grantee))
        .get_tip_recommendation(pb::GetTipRecommendationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    let id = created
        .name
        .strip_prefix("countries/HT/tipRecommendations/")
        .expect("named under its country");
    assert_eq!(
        uuid::Uuid::parse_str(id).unwrap().get_version_num(),
        7,
        "server-generated UUIDv7"
    );
    assert_eq!(created.country_code, "HT");
    assert_eq!(created.report_year, 2014);
    assert_eq!(created.pillar, pb::Pillar::Prosecution as i32);
    assert_eq!(created.text, "Enact a comprehensive anti-trafficking law.");
    assert_eq!(created.etag, "1");
    assert!(created.delete_time.is_none());
    assert_eq!(read, created);
}

#[tokio::test]
async fn every_invalid_field_of_a_recommendation_is_named_at_once() {
    let app = spawn_app().await;
    let mut client = app.tip_report(app.admin());

    let everything = client
        .create_tip_recommendation(recommendation_request(
            "countries/XYZ",
            1999,
            pb::Pillar::Unspecified,
            " ",
        ))
        .await;
    let too_long = client
        .create_tip_recommendation(recommendation_request(
            "countries/HT",
            2014,
            pb::Pillar::Protection,
            &"x".repeat(2001),
        ))
        .await;
    let longest = client
        .create_tip_recommendation(recommendation_request(
            "countries/HT",
            2014,
            pb::Pillar::Protection,
            &"x".repeat(2000),
        ))
        .await;
    let unknown_country = client
        .create_tip_recommendation(recommendation_request(
            "countries/XX",
            2014,
            pb::Pillar::Protection,
            "Fund shelters",
        ))
        .await;

    expect_invalid(
        everything,
        &[
            "parent",
            "tip_recommendation.report_year",
            "tip_recommendation.pillar",
            "tip_recommendation.text",
        ],
    );
    expect_invalid(too_long, &["tip_recommendation.text"]);
    assert!(longest.is_ok(), "{longest:?}");
    expect_invalid(unknown_country, &["parent"]);
}

#[tokio::test]
async fn recommendations_list_by_pillar_year_and_region_across_pages_in_creation_order() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for (country, year, pillar) in [
        ("HT", 2014, pb::Pillar::Protection),
        ("BW", 2014, pb::Pillar::Prosecution),
        ("HT", 2014, pb::Pillar::Prosecution),
        ("LR", 2013, pb::Pillar::Protection),
        ("HT", 2013, pb::Pillar::Protection),
        ("NA", 2014, pb::Pillar::Protection),
        ("PE", 2014, pb::Pillar::Prevention),
    ] {
        created.push(recommend(&app, country, year, pillar, &format!("{country} {year}")).await);
    }
    let names = |found: Vec<pb::TipRecommendation>| -> Vec<String> {
        found.into_iter().map(|r| r.name).collect()
    };
    let names_of = |indexes: &[usize]| -> Vec<String> {
        indexes.iter().map(|&i| created[i].name.clone()).collect()
    };

    let protection = all_recommendations(&app, "countries/-", "pillar = PROTECTION", false).await;
    let african_protection = all_recommendations(
        &app,
        "countries/-",
        "pillar = PILLAR_PROTECTION AND region = AF",
        false,
    )
    .await;
    let haiti_2014 = all_recommendations(&app, "countries/HT", "report_year = 2014", false).await;
    let every = all_recommendations(&app, "countries/-", "", false).await;

    assert_eq!(names(protection), names_of(&[0, 3, 4, 5]));
    assert_eq!(names(african_protection), names_of(&[3, 5]));
    assert_eq!(names(haiti_2014), names_of(&[0, 2]));
    assert_eq!(
        names(every),
        names_of(&[0, 1, 2, 3, 4, 5, 6]),
        "oldest first"
    );
}

#[tokio::test]
async fn a_recommendation_update_changes_only_the_masked_fields_and_a_stale_etag_is_aborted() {
    let app = spawn_app().await;
    let created = recommend(&app, "HT", 2014, pb::Pillar::Protection, "Fund shelters").await;
    let update = |etag: &str, paths: &[&str]| pb::UpdateTipRecommendationRequest {
        tip_recommendation: Some(pb::TipRecommendation {
            name: created.name.clone(),
            report_year: 2015,
            pillar: pb::Pillar::Prevention as i32,
            text: "Fund shelters for child victims".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(paths),
    };
    let mut client = app.tip_report(app.admin());

    let updated = client
        .update_tip_recommendation(update(&created.etag, &["text", "report_year"]))
        .await
        .unwrap()
        .into_inner();
    let stale = client
        .update_tip_recommendation(update(&created.etag, &["pillar"]))
        .await;
    let country_mask = client
        .update_tip_recommendation(update("", &["country_code"]))
        .await;
    let bad_year = client
        .update_tip_recommendation(pb::UpdateTipRecommendationRequest {
            tip_recommendation: Some(pb::TipRecommendation {
                name: created.name.clone(),
                report_year: 1990,
                ..Default::default()
            }),
            update_mask: mask(&["report_year", "text"]),
        })
        .await;

    assert_eq!(updated.text, "Fund shelters for child victims");
    assert_eq!(updated.report_year, 2015);
    assert_eq!(
        updated.pillar,
        pb::Pillar::Protection as i32,
        "pillar was not in the mask"
    );
    assert_ne!(updated.etag, created.etag);
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
    expect_invalid(country_mask, &["update_mask"]);
    expect_invalid(
        bad_year,
        &["tip_recommendation.report_year", "tip_recommendation.text"],
    );
}

#[tokio::test]
async fn a_deleted_recommendation_stays_readable_but_leaves_the_default_list() {
    let app = spawn_app().await;
    let created = recommend(&app, "HT", 2014, pb::Pillar::Protection, "Fund shelters").await;
    let kept = recommend(&app, "HT", 2014, pb::Pillar::Prevention, "Train teachers").await;
    let edited = app
        .tip_report(app.admin())
        .update_tip_recommendation(pb::UpdateTipRecommendationRequest {
            tip_recommendation: Some(pb::TipRecommendation {
                name: created.name.clone(),
                text: "Fund shelters nationwide".into(),
                ..Default::default()
            }),
            update_mask: mask(&["text"]),
        })
        .await
        .unwrap()
        .into_inner();
    let mut client = app.tip_report(app.admin());

    let stale = client
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: created.name.clone(),
            etag: created.etag.clone(),
        })
        .await;
    let deleted = client
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: created.name.clone(),
            etag: edited.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let read = client
        .get_tip_recommendation(pb::GetTipRecommendationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let live = all_recommendations(&app, "countries/HT", "", false).await;
    let all = all_recommendations(&app, "countries/HT", "", true).await;
    let again = client
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await;
    let update_deleted = client
        .update_tip_recommendation(pb::UpdateTipRecommendationRequest {
            tip_recommendation: Some(pb::TipRecommendation {
                name: created.name.clone(),
                text: "Too late".into(),
                ..Default::default()
            }),
            update_mask: mask(&["text"]),
        })
        .await;

    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "ETAG_MISMATCH");
    assert!(deleted.delete_time.is_some());
    assert_eq!(read, deleted);
    assert_eq!(read.text, "Fund shelters nationwide");
    assert_eq!(
        live.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        vec![kept.name.clone()]
    );
    assert_eq!(all.len(), 2);
    for refused in [again, update_deleted] {
        assert_eq!(
            reason(&expect_code(refused, Code::FailedPrecondition)),
            "RESOURCE_DELETED"
        );
    }
}

#[tokio::test]
async fn a_recommendation_is_found_only_under_its_own_country() {
    let app = spawn_app().await;
    let created = recommend(&app, "HT", 2014, pb::Pillar::Protection, "Fund shelters").await;
    let id = created.name.rsplit('/').next().unwrap();

    let elsewhere = app
        .tip_report(app.admin())
        .get_tip_recommendation(pb::GetTipRecommendationRequest {
            name: format!("countries/PE/tipRecommendations/{id}"),
        })
        .await;
    let ranking_collection = app
        .tip_report(app.admin())
        .get_tip_recommendation(pb::GetTipRecommendationRequest {
            name: format!("countries/HT/tipRankings/{id}"),
        })
        .await;

    let status = expect_code(elsewhere, Code::NotFound);
    assert_eq!(
        status.message(),
        format!("countries/PE/tipRecommendations/{id} not found")
    );
    expect_invalid(ranking_collection, &["name"]);
}

#[tokio::test]
async fn the_same_request_id_twice_records_one_recommendation_and_one_ranking() {
    let app = spawn_app().await;
    let mut recommendation =
        recommendation_request("countries/HT", 2014, pb::Pillar::Protection, "Once");
    recommendation.request_id = "tip-once".into();
    let mut ranking = ranking_request("countries/HT", 2014, pb::TipTier::TipTier1);
    ranking.request_id = "tip-rank-once".into();
    let mut client = app.tip_report(app.admin());

    let first = client
        .create_tip_recommendation(recommendation.clone())
        .await
        .unwrap()
        .into_inner();
    let second = client
        .create_tip_recommendation(recommendation)
        .await
        .unwrap()
        .into_inner();
    let first_ranking = client
        .create_tip_ranking(ranking.clone())
        .await
        .unwrap()
        .into_inner();
    let retried_ranking = client
        .create_tip_ranking(ranking)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(first, second);
    assert_eq!(
        all_recommendations(&app, "countries/-", "", true)
            .await
            .len(),
        1
    );
    assert_eq!(
        first_ranking, retried_ranking,
        "a retry is answered, not ALREADY_EXISTS"
    );
}

#[tokio::test]
async fn every_mutation_of_the_tip_report_leaves_exactly_one_audit_event() {
    let app = spawn_app().await;
    let mut client = app.tip_report(app.admin());
    let ranking = rank(&app, "HT", 2014, pb::TipTier::TipTier2WatchList).await;
    client
        .update_tip_ranking(pb::UpdateTipRankingRequest {
            tip_ranking: Some(pb::TipRanking {
                name: ranking.name.clone(),
                tier: pb::TipTier::TipTier2 as i32,
                etag: ranking.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["tier"]),
        })
        .await
        .unwrap();
    let duplicate = client
        .create_tip_ranking(ranking_request("countries/HT", 2014, pb::TipTier::TipTier3))
        .await;
    expect_code(duplicate, Code::AlreadyExists);
    let recommendation = recommend(&app, "HT", 2014, pb::Pillar::Protection, "Fund shelters").await;
    client
        .update_tip_recommendation(pb::UpdateTipRecommendationRequest {
            tip_recommendation: Some(pb::TipRecommendation {
                name: recommendation.name.clone(),
                pillar: pb::Pillar::Partnership as i32,
                ..Default::default()
            }),
            update_mask: mask(&["pillar"]),
        })
        .await
        .unwrap();
    client
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: recommendation.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();

    let ranking_events = app.audit_events_of(&ranking.name).await;
    let recommendation_events = app.audit_events_of(&recommendation.name).await;

    assert_eq!(
        ranking_events.iter().map(method_of).collect::<Vec<_>>(),
        vec!["CreateTipRanking", "UpdateTipRanking"],
        "the refused duplicate left no event"
    );
    assert_eq!(changed_fields(&ranking_events[0]), vec!["tier"]);
    assert_eq!(changed_fields(&ranking_events[1]), vec!["tier"]);
    assert_eq!(
        recommendation_events
            .iter()
            .map(method_of)
            .collect::<Vec<_>>(),
        vec![
            "CreateTipRecommendation",
            "UpdateTipRecommendation",
            "DeleteTipRecommendation"
        ]
    );
    assert_eq!(
        changed_fields(&recommendation_events[0]),
        vec!["pillar", "report_year", "text"]
    );
    assert_eq!(changed_fields(&recommendation_events[1]), vec!["pillar"]);
    assert_eq!(
        changed_fields(&recommendation_events[2]),
        vec!["delete_time"]
    );
    assert!(
        ranking_events
            .iter()
            .chain(&recommendation_events)
            .all(|event| event.actor == "apiTokens/bootstrap")
    );
}

#[tokio::test]
async fn projects_find_only_live_recommendations_by_id() {
    let app = spawn_app().await;
    let live = recommend(&app, "HT", 2014, pb::Pillar::Protection, "Fund shelters").await;
    let gone = recommend(&app, "PE", 2014, pb::Pillar::Prosecution, "Train judges").await;
    app.tip_report(app.admin())
        .delete_tip_recommendation(pb::DeleteTipRecommendationRequest {
            name: gone.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let id = |name: &str| name.rsplit('/').next().unwrap().to_string();
    let call = CallContext {
        actor: Actor::system(),
        method: "/tests/FindRecommendations".into(),
        request_id: String::new(),
    };

    let tx = app.store.begin(&call).await.unwrap();
    let found = tx
        .tip_recommendations_for(&[id(&live.name), id(&gone.name), "missing".into()])
        .await
        .unwrap();
    let none = tx.tip_recommendations_for(&[]).await.unwrap();
    drop(tx);

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].resource_name(), live.name);
    assert_eq!(found[0].country_code, "HT");
    assert_eq!(found[0].report_year, 2014);
    assert_eq!(
        found[0].pillar,
        tipgrants::domain::pillar::Pillar::Protection
    );
    assert_eq!(found[0].text, "Fund shelters");
    assert!(none.is_empty());
}
