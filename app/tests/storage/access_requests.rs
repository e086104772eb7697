//! Subject access requests: recorded with their first history entry, listed for the
//! patient and the desk, and changed only from the state they were decided on.

use super::proxy::{audit_row, person};
use super::*;
use app::sar::rules::{Pause, RequestScope, SarState};
use chrono::NaiveDate;

pub(crate) async fn a_request_is_recorded_listed_and_changed_once(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let patient = amelia.patient_id.unwrap();
    let received = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let public_id = s
        .create_access_request(NewAccessRequest {
            patient,
            requested_by: amelia.id,
            requester_kind: RequesterKind::Patient,
            scope: RequestScope {
                everything: true,
                sections: Vec::new(),
            },
            date_from: NaiveDate::from_ymd_opt(2025, 1, 1),
            date_to: None,
            note: Some("the x-ray".into()),
            received_on: received,
            at: at(6, 9),
            audit: audit_row(&amelia, patient, action::SAR_REQUESTED),
        })
        .await
        .unwrap();
    let mine = s.access_requests_for_patient(patient).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].public_id, public_id);
    assert_eq!(mine[0].state, SarState::Received);
    assert_eq!(mine[0].received_on, received);
    assert_eq!(mine[0].date_from, NaiveDate::from_ymd_opt(2025, 1, 1));
    assert!(mine[0].scope.everything && mine[0].pauses.is_empty());
    assert_eq!(s.open_access_requests().await.unwrap().len(), 1);

    let pause = vec![Pause {
        from: received,
        until: None,
    }];
    let change = AccessRequestChange {
        public_id: public_id.clone(),
        from_state: SarState::Received,
        read_at: mine[0].updated_at,
        state: SarState::AwaitingClarification,
        pauses: pause.clone(),
        extension: None,
        event: "asked_for_clarification",
        actor_kind: ActorKind::Staff,
        actor_account: Some(amelia.id),
        note: Some("Which x-ray?".into()),
        at: at(6, 10),
        audit: audit_row(&amelia, patient, action::SAR_CHANGED),
    };
    s.change_access_request(change.clone()).await.unwrap();
    let found = s.find_access_request(&public_id).await.unwrap().unwrap();
    assert_eq!(
        (found.state, found.pauses),
        (SarState::AwaitingClarification, pause)
    );
    // Decided on a state it is no longer in: refused, nothing written.
    assert!(matches!(
        s.change_access_request(change.clone()).await,
        Err(StorageError::Conflict(_))
    ));
    // Two changes decided on the same reading that keep the state (two extensions):
    // the second is refused.
    let found = s.find_access_request(&public_id).await.unwrap().unwrap();
    let extend = AccessRequestChange {
        from_state: found.state,
        read_at: found.updated_at,
        state: found.state,
        pauses: found.pauses.clone(),
        event: "extended",
        ..change
    };
    s.change_access_request(extend.clone()).await.unwrap();
    assert!(matches!(
        s.change_access_request(extend).await,
        Err(StorageError::Conflict(_))
    ));
    let history = s.access_request_history(&public_id).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        vec!["received", "asked_for_clarification", "extended"]
    );
    assert_eq!(history[1].note.as_deref(), Some("Which x-ray?"));
    assert_eq!(s.find_access_request("no-such").await.unwrap(), None);
}
