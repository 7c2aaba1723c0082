//! Several replicas on one database: a token revoked through one is refused by the others
//! within moments (PostgreSQL's LISTEN/NOTIFY, not the token cache's lifetime).

use tonic::Code;

use crate::helpers::*;

/// A token cache lifetime far longer than any wait below: only a notification can explain a
/// refusal on the replica that did not revoke.
const LONG_CACHE_SECONDS: u64 = 60;

/// Whether this is the PostgreSQL pass; on the SQLite pass, says why the test does nothing.
fn on_the_postgres_pass() -> bool {
    let on = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    if !on {
        println!(
            "skipped on the SQLite pass: replicas share a database only on PostgreSQL (one SQLite file has one server); see the PostgreSQL pass of scripts/test.sh"
        );
    }
    on
}

/// Two servers on one fresh database, with a long token cache; the first wrote the admin token.
async fn two_replicas(directory: &tempfile::TempDir) -> (TestApp, TestApp) {
    let mut settings = test_settings(directory).await;
    settings.auth.token_cache_ttl_seconds = LONG_CACHE_SECONDS;
    let first = spawn_app_on(settings.clone()).await;
    let second = spawn_app_on(settings).await;
    (first, second)
}

/// Whether `secret` is accepted by `app` now: Some(()) once it is refused as unauthenticated.
async fn refused(app: &TestApp, secret: &str) -> Option<()> {
    let answer = app
        .reference_data(Some(secret))
        .list_regions(pb::ListRegionsRequest {})
        .await;
    match answer {
        Ok(_) => None,
        Err(status) if status.code() == Code::Unauthenticated => Some(()),
        Err(status) => panic!("unexpected answer: {status:?}"),
    }
}

/// Uses `secret` through `app`, so that `app` caches it.
async fn use_token(app: &TestApp, secret: &str) {
    app.reference_data(Some(secret))
        .list_regions(pb::ListRegionsRequest {})
        .await
        .expect("the token works");
}

#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_other_long_before_its_cache_lifetime()
 {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let (first, second) = two_replicas(&directory).await;
    let (name, secret) = first.token_named(pb::Role::Auditor, "").await;
    use_token(&first, &secret).await;
    use_token(&second, &secret).await;

    first
        .access(first.admin())
        .revoke_api_token(pb::RevokeApiTokenRequest {
            name,
            request_id: String::new(),
        })
        .await
        .expect("the admin revokes the token");

    // The hang guard of `eventually` (30 s) is half the cache lifetime: a pass is the notification.
    eventually("the other replica refuses the revoked token", || {
        refused(&second, &secret)
    })
    .await;
    assert_eq!(refused(&first, &secret).await, Some(()));
}

#[tokio::test]
async fn the_tokens_of_an_organization_deleted_through_one_replica_are_refused_by_the_other() {
    if !on_the_postgres_pass() {
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let (first, second) = two_replicas(&directory).await;
    let organization = first.organization("Closing down", "HT").await;
    let secrets = [
        first.token(pb::Role::Grantee, &organization.name).await,
        first.token(pb::Role::Grantee, &organization.name).await,
    ];
    let bystander = first.token(pb::Role::Auditor, "").await;
    for secret in secrets.iter().chain([&bystander]) {
        use_token(&first, secret).await;
        use_token(&second, secret).await;
    }

    first
        .organizations(first.admin())
        .delete_organization(pb::DeleteOrganizationRequest {
            name: organization.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("the admin deletes the organization");

    for secret in &secrets {
        eventually(
            "the other replica refuses the deleted organization's token",
            || refused(&second, secret),
        )
        .await;
    }
    // Only the organisation's tokens were forgotten for good: another still works.
    use_token(&second, &bystander).await;
}
