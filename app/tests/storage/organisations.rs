//! Source organisations: created, found by ODS code and credential, rotated and revoked.

use super::*;

pub(crate) async fn reports_its_backend_and_answers_pings(db: &TestDb) {
    let expected = if db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(db.storage.backend(), expected);
    db.storage.ping().await.unwrap();
}

pub(crate) async fn organisations_are_created_found_rotated_and_revoked(db: &TestDb) {
    let s = db.storage.as_ref();
    let created = organisation(s, "RXX", "hash-1").await;
    assert!(created.has_credential);
    assert_eq!(created.last_received_at, None);
    assert_eq!(created.credential_issued_at, Some(at(1, 9)));

    let by_code = s
        .find_organisation_by_ods_code(&OdsCode::parse("rxx").unwrap())
        .await
        .unwrap();
    assert_eq!(by_code.as_ref(), Some(&created));
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-1")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap(),
        None
    );

    let rotated = s
        .set_organisation_credential(CredentialChange {
            ods_code: created.ods_code.clone(),
            credential_hash: Some("hash-2".into()),
            at: at(2, 9),
        })
        .await
        .unwrap();
    assert_eq!(rotated.credential_issued_at, Some(at(2, 9)));
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap()
            .map(|o| o.id),
        Some(created.id)
    );

    let revoked = s
        .set_organisation_credential(CredentialChange {
            ods_code: created.ods_code.clone(),
            credential_hash: None,
            at: at(3, 9),
        })
        .await
        .unwrap();
    assert!(!revoked.has_credential);
    assert_eq!(
        s.find_organisation_by_credential_hash("hash-2")
            .await
            .unwrap(),
        None
    );

    let missing = s
        .set_organisation_credential(CredentialChange {
            ods_code: OdsCode::parse("ZZZ").unwrap(),
            credential_hash: None,
            at: at(3, 9),
        })
        .await;
    assert!(matches!(missing, Err(StorageError::NotFound)));

    organisation(s, "Y09001", "hash-3").await;
    let codes: Vec<String> = s
        .list_organisations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.ods_code.to_string())
        .collect();
    assert_eq!(codes, ["RXX", "Y09001"]);
}

pub(crate) async fn a_second_organisation_with_the_same_ods_code_is_refused(db: &TestDb) {
    let s = db.storage.as_ref();
    organisation(s, "RXX", "hash-1").await;
    let again = s
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse("RXX").unwrap(),
            name: "Impostor".into(),
            kind: OrganisationKind::GpPractice,
            credential_hash: "hash-9".into(),
            at: at(1, 10),
        })
        .await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    assert_eq!(s.list_organisations().await.unwrap().len(), 1);
}
