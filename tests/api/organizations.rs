//! Organisations: validation, pagination, etags, idempotency, soft delete.

use std::collections::HashSet;

use tonic::Code;

use crate::helpers::*;

fn create(organization: pb::Organization, request_id: &str) -> pb::CreateOrganizationRequest {
    pb::CreateOrganizationRequest {
        organization: Some(organization),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn an_admin_creates_and_reads_back_an_organisation() {
    let app = spawn_app().await;
    let mut organization = new_organization("Haiti Child Protection Network", "ht");
    organization.identifiers = vec![pb::OrganizationIdentifier {
        scheme: "uei".into(),
        value: "ABC123".into(),
    }];

    let created = app
        .organizations(app.admin())
        .create_organization(create(organization, ""))
        .await
        .unwrap()
        .into_inner();
    let read = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    assert!(created.name.starts_with("organizations/"));
    assert_eq!(read, created);
    assert_eq!(
        read.country_code, "HT",
        "codes are normalised to upper case"
    );
    assert_eq!(read.identifiers[0].scheme, "UEI");
    assert_eq!(read.etag, "1");
    assert!(read.delete_time.is_none());
}

#[tokio::test]
async fn every_invalid_field_of_an_organisation_is_named_at_once() {
    let app = spawn_app().await;
    let organization = pb::Organization {
        display_name: "  ".into(),
        kind: 0,
        country_code: "Haiti".into(),
        identifiers: vec![
            pb::OrganizationIdentifier {
                scheme: "has space".into(),
                value: "1".into(),
            },
            pb::OrganizationIdentifier {
                scheme: "UEI".into(),
                value: "".into(),
            },
        ],
        ..Default::default()
    };

    let result = app
        .organizations(app.admin())
        .create_organization(create(organization, ""))
        .await;

    expect_invalid(
        result,
        &[
            "organization.display_name",
            "organization.kind",
            "organization.country_code",
            "organization.identifiers[0].scheme",
            "organization.identifiers[1].value",
        ],
    );
}

#[tokio::test]
async fn a_display_name_longer_than_200_characters_is_refused() {
    let app = spawn_app().await;
    let organization = new_organization(&"x".repeat(201), "HT");
    let result = app
        .organizations(app.admin())
        .create_organization(create(organization, ""))
        .await;
    expect_invalid(result, &["organization.display_name"]);
}

#[tokio::test]
async fn an_identifier_scheme_may_appear_only_once() {
    let app = spawn_app().await;
    let mut organization = new_organization("Dup", "HT");
    organization.identifiers = vec![
        pb::OrganizationIdentifier {
            scheme: "UEI".into(),
            value: "1".into(),
        },
        pb::OrganizationIdentifier {
            scheme: "uei".into(),
            value: "2".into(),
        },
    ];
    let result = app
        .organizations(app.admin())
        .create_organization(create(organization, ""))
        .await;
    expect_invalid(result, &["organization.identifiers[1].scheme"]);
}

#[tokio::test]
async fn an_unknown_country_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let result = app
        .organizations(app.admin())
        .create_organization(create(new_organization("Nowhere NGO", "XX"), ""))
        .await;
    expect_invalid(result, &["organization.country_code"]);

    let list = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.organizations.is_empty());
}

#[tokio::test]
async fn a_missing_organisation_is_not_found_and_a_malformed_name_is_invalid() {
    let app = spawn_app().await;
    let missing = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: "organizations/nope".into(),
        })
        .await;
    expect_code(missing, Code::NotFound);

    let malformed = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: "grants/1".into(),
        })
        .await;
    expect_invalid(malformed, &["name"]);
}

#[tokio::test]
async fn pages_cover_every_organisation_once_in_a_stable_order() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for index in 0..7 {
        created.push(app.organization(&format!("NGO {index}"), "PE").await.name);
    }

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .organizations(app.admin())
            .list_organizations(pb::ListOrganizationsRequest {
                page_size: 3,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.organizations.len() <= 3);
        seen.extend(
            page.organizations
                .into_iter()
                .map(|organization| organization.name),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, created, "oldest first, no gaps, no repeats");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn a_filter_applies_across_pages_and_a_token_cannot_change_its_query() {
    let app = spawn_app().await;
    for index in 0..4 {
        app.organization(&format!("Peru {index}"), "PE").await;
        app.organization(&format!("Costa Rica {index}"), "CR").await;
    }
    let request = |token: String, filter: &str| pb::ListOrganizationsRequest {
        page_size: 3,
        page_token: token,
        filter: filter.into(),
        show_deleted: false,
    };

    let first = app
        .organizations(app.admin())
        .list_organizations(request(String::new(), "country_code = PE"))
        .await
        .unwrap()
        .into_inner();
    let second = app
        .organizations(app.admin())
        .list_organizations(request(first.next_page_token.clone(), "country_code = PE"))
        .await
        .unwrap()
        .into_inner();
    let switched = app
        .organizations(app.admin())
        .list_organizations(request(first.next_page_token.clone(), "country_code = CR"))
        .await;
    // Only the page fields may change between pages, and the filter's spacing.
    let respaced = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest {
            page_size: 10,
            ..request(first.next_page_token.clone(), "country_code=PE")
        })
        .await
        .unwrap()
        .into_inner();
    let flag_flipped = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest {
            show_deleted: true,
            ..request(first.next_page_token.clone(), "country_code = PE")
        })
        .await;

    let names: Vec<_> = first
        .organizations
        .iter()
        .chain(&second.organizations)
        .map(|o| o.display_name.clone())
        .collect();
    assert_eq!(names, vec!["Peru 0", "Peru 1", "Peru 2", "Peru 3"]);
    assert!(second.next_page_token.is_empty());
    assert_eq!(respaced.organizations, second.organizations);
    expect_invalid(switched, &["page_token"]);
    expect_invalid(flag_flipped, &["page_token"]);
}

#[tokio::test]
async fn bad_list_arguments_name_their_field() {
    let app = spawn_app().await;
    let mut client = app.organizations(app.admin());
    let negative = client
        .list_organizations(pb::ListOrganizationsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await;
    expect_invalid(negative, &["page_size"]);
    let token = client
        .list_organizations(pb::ListOrganizationsRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await;
    expect_invalid(token, &["page_token"]);
    let filter = client
        .list_organizations(pb::ListOrganizationsRequest {
            filter: "colour = red".into(),
            ..Default::default()
        })
        .await;
    expect_invalid(filter, &["filter"]);
    let kind = client
        .list_organizations(pb::ListOrganizationsRequest {
            filter: "kind = CHARITY".into(),
            ..Default::default()
        })
        .await;
    expect_invalid(kind, &["filter"]);
}

#[tokio::test]
async fn an_update_changes_only_the_masked_fields_and_moves_the_etag() {
    let app = spawn_app().await;
    let created = app.organization("Old name", "HT").await;

    let updated = app
        .organizations(app.admin())
        .update_organization(pb::UpdateOrganizationRequest {
            organization: Some(pb::Organization {
                name: created.name.clone(),
                display_name: "New name".into(),
                country_code: "PE".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.display_name, "New name");
    assert_eq!(
        updated.country_code, "HT",
        "country_code was not in the mask"
    );
    assert_ne!(updated.etag, created.etag);
}

#[tokio::test]
async fn an_update_with_a_stale_etag_is_aborted_and_changes_nothing() {
    let app = spawn_app().await;
    let created = app.organization("Original", "HT").await;
    let update = |display_name: &str, etag: &str| pb::UpdateOrganizationRequest {
        organization: Some(pb::Organization {
            name: created.name.clone(),
            display_name: display_name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    app.organizations(app.admin())
        .update_organization(update("First", &created.etag))
        .await
        .unwrap();

    let stale = app
        .organizations(app.admin())
        .update_organization(update("Second", &created.etag))
        .await;

    let status = expect_code(stale, Code::Aborted);
    assert_eq!(reason(&status), "ETAG_MISMATCH");
    let read = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.display_name, "First");
}

#[tokio::test]
async fn an_update_needs_a_mask_of_known_fields() {
    let app = spawn_app().await;
    let created = app.organization("Masked", "HT").await;
    let update = |paths: Vec<String>| pb::UpdateOrganizationRequest {
        organization: Some(pb::Organization {
            name: created.name.clone(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths }),
    };
    expect_invalid(
        app.organizations(app.admin())
            .update_organization(update(vec![]))
            .await,
        &["update_mask"],
    );
    expect_invalid(
        app.organizations(app.admin())
            .update_organization(update(vec!["create_time".into()]))
            .await,
        &["update_mask"],
    );
    expect_invalid(
        app.organizations(app.admin())
            .update_organization(update(vec!["display_name".into()]))
            .await,
        &["organization.display_name"],
    );
}

#[tokio::test]
async fn the_same_request_id_twice_creates_one_organisation_and_answers_the_same() {
    let app = spawn_app().await;
    let request = create(new_organization("Once Only", "HT"), "create-once-1");

    let first = app
        .organizations(app.admin())
        .create_organization(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .organizations(app.admin())
        .create_organization(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(first, second);
    let list = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.organizations.len(), 1);
}

#[tokio::test]
async fn a_request_id_reused_for_a_different_request_is_refused() {
    let app = spawn_app().await;
    app.organizations(app.admin())
        .create_organization(create(new_organization("First", "HT"), "reused-id"))
        .await
        .unwrap();

    let other = app
        .organizations(app.admin())
        .create_organization(create(new_organization("Second", "HT"), "reused-id"))
        .await;

    let status = expect_code(other, Code::FailedPrecondition);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn a_deleted_organisation_stays_readable_but_leaves_the_default_list() {
    let app = spawn_app().await;
    let created = app.organization("Closing down", "HT").await;

    let deleted = app
        .organizations(app.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let read = app
        .organizations(app.admin())
        .get_organization(pb::GetOrganizationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let live = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let all = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest {
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let again = app
        .organizations(app.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await;

    assert!(deleted.delete_time.is_some());
    assert_eq!(read.delete_time, deleted.delete_time);
    assert!(live.organizations.is_empty());
    assert_eq!(all.organizations.len(), 1);
    assert_eq!(
        reason(&expect_code(again, Code::FailedPrecondition)),
        "RESOURCE_DELETED"
    );
}
