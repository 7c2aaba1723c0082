//! Many calls at once: money never overdrawn, one audit chain, one record
//! per request id. Meaningful on PostgreSQL (a pool of connections); on
//! SQLite the single writer connection serialises the same writes, while
//! reads run beside them.

use std::time::Duration;

use tipgrants::domain::access::{Actor, NewToken, Role};
use tipgrants::store::CallContext;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn concurrent_deobligations_never_take_more_than_was_obligated() {
    let app = spawn_app_with(|settings| settings.database.max_connections = 8).await;
    app.funding_account("ESF").await;
    let grant = app
        .grant("RACE-1", &app.organization("Racer", "HT").await.name)
        .await;
    app.obligate(
        &grant.name,
        new_obligation(
            pb::ObligationKind::InitialAward,
            "ESF",
            2014,
            100,
            "2014-03-01",
        ),
    )
    .await
    .unwrap();

    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let mut client = app.grants(app.admin());
            let parent = grant.name.clone();
            tokio::spawn(async move {
                client
                    .create_obligation(pb::CreateObligationRequest {
                        parent,
                        obligation: Some(new_obligation(
                            pb::ObligationKind::Deobligation,
                            "ESF",
                            2014,
                            20,
                            "2014-06-01",
                        )),
                        request_id: String::new(),
                    })
                    .await
            })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(status) => assert_eq!(status.code(), Code::InvalidArgument, "{status:?}"),
        }
    }

    assert_eq!(
        accepted, 5,
        "exactly the 100 cents obligated can be taken back"
    );
    assert_eq!(app.read_grant(&grant.name).await.obligated_amount, 0);
}

#[tokio::test]
async fn concurrent_writes_extend_one_unbroken_audit_chain() {
    let app = spawn_app_with(|settings| settings.database.max_connections = 8).await;
    let writes: Vec<_> = (0..24)
        .map(|index| {
            let mut client = app.organizations(app.admin());
            tokio::spawn(async move {
                client
                    .create_organization(pb::CreateOrganizationRequest {
                        organization: Some(new_organization(&format!("Concurrent {index}"), "PE")),
                        request_id: String::new(),
                    })
                    .await
            })
        })
        .collect();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    let verdict = app
        .audit(app.admin())
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.valid, "{verdict:?}");
    assert!(verdict.events_checked >= 24);
}

#[tokio::test]
async fn concurrent_retries_with_one_request_id_create_one_record() {
    let app = spawn_app_with(|settings| settings.database.max_connections = 8).await;
    let request = pb::CreateOrganizationRequest {
        organization: Some(new_organization("Retried", "HT")),
        request_id: "retry-storm".into(),
    };
    let retries: Vec<_> = (0..8)
        .map(|_| {
            let mut client = app.organizations(app.admin());
            let request = request.clone();
            tokio::spawn(async move { client.create_organization(request).await })
        })
        .collect();
    let mut names = Vec::new();
    for retry in retries {
        match retry.await.unwrap() {
            Ok(answer) => names.push(answer.into_inner().name),
            // A retry that raced the first call is told to retry; it never creates a second record.
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    let listed = app
        .organizations(app.admin())
        .list_organizations(pb::ListOrganizationsRequest::default())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(listed.organizations.len(), 1);
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .all(|name| name == &listed.organizations[0].name)
    );
}

#[tokio::test]
async fn a_read_is_answered_while_a_write_transaction_is_open() {
    let app = spawn_app().await;
    let organization = app.organization("Open Door", "HT").await;
    let call = CallContext {
        actor: Actor::system(),
        method: "/tests/HoldAWriteTransaction".into(),
        request_id: String::new(),
    };
    let mut write = app.store.begin(&call).await.unwrap();
    write
        .create_token(
            NewToken {
                display_name: "written, not committed".into(),
                owner: "tests".into(),
                role: Role::Auditor,
                organization_id: None,
                expire_time: chrono::Utc::now() + chrono::Duration::days(1),
            },
            None,
        )
        .await
        .unwrap();

    // The timeout only guards against a hang; the read must not wait for the write at all.
    let read = tokio::time::timeout(
        Duration::from_secs(60),
        app.organizations(app.admin())
            .get_organization(pb::GetOrganizationRequest {
                name: organization.name.clone(),
            }),
    )
    .await
    .expect("the read does not wait for the write transaction");
    let committed = write.commit().await;

    let read = read.expect("the read is answered while the transaction is open");
    assert_eq!(read.into_inner().display_name, "Open Door");
    assert!(
        committed.is_ok(),
        "the transaction stayed open through the read and then committed: {committed:?}"
    );
}
