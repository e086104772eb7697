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
            channel: "online",
            state: SarState::Received,
            pauses: Vec::new(),
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
        answer: None,
    };
    s.change_access_request(change.clone()).await.unwrap();
    let found = s.find_access_request(&public_id).await.unwrap().unwrap();
    assert_eq!(
        (found.state, found.pauses),
        (SarState::AwaitingClarification, pause.clone())
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

    // A request that came by post waits for proof of identity, its clock paused from
    // the day it was received.
    let by_post = s
        .create_access_request(NewAccessRequest {
            patient,
            requested_by: amelia.id,
            requester_kind: RequesterKind::Desk,
            channel: "post",
            state: SarState::AwaitingIdentity,
            pauses: pause.clone(),
            scope: RequestScope {
                everything: true,
                sections: Vec::new(),
            },
            date_from: None,
            date_to: None,
            note: None,
            received_on: received,
            at: at(6, 11),
            audit: audit_row(&amelia, patient, action::SAR_LOGGED),
        })
        .await
        .unwrap();
    let logged = s.find_access_request(&by_post).await.unwrap().unwrap();
    assert_eq!(
        (
            logged.channel.as_str(),
            logged.requester_kind.as_str(),
            logged.state,
            logged.pauses.clone()
        ),
        ("post", "desk", SarState::AwaitingIdentity, pause.clone())
    );

    // In review: the clinical review is recorded (replacing an earlier one), and the
    // answer is stored with the change that fulfils the request.
    let to_review = AccessRequestChange {
        public_id: by_post.clone(),
        from_state: SarState::AwaitingIdentity,
        read_at: logged.updated_at,
        state: SarState::InReview,
        pauses: Vec::new(),
        extension: None,
        event: "review_started",
        actor_kind: ActorKind::Staff,
        actor_account: Some(amelia.id),
        note: None,
        at: at(6, 12),
        audit: audit_row(&amelia, patient, action::SAR_CHANGED),
        answer: None,
    };
    s.change_access_request(to_review).await.unwrap();
    assert!(!s.review_recorded(&by_post).await.unwrap());
    let in_review = s.find_access_request(&by_post).await.unwrap().unwrap();
    let withheld = |id: &str| WithheldItem {
        item_public_id: id.to_owned(),
        exemption: app::export::WithholdingGround::ThirdParty,
        reason: "Names a relative".to_owned(),
        reviewer: "Dr A Reviewer, consultant".to_owned(),
    };
    let review = NewReview {
        public_id: by_post.clone(),
        read_at: in_review.updated_at,
        reviewed: vec![("item-1".to_owned(), 1), ("item-2".to_owned(), 2)],
        withheld: vec![withheld("item-1"), withheld("item-2")],
        recorded_by: amelia.id,
        at: at(6, 13),
        audit: audit_row(&amelia, patient, action::SAR_REVIEWED),
    };
    s.record_review(review.clone()).await.unwrap();
    // Decided on a reading that is no longer current: refused.
    assert!(matches!(
        s.record_review(review.clone()).await,
        Err(StorageError::Conflict(_))
    ));
    let reviewed = s.find_access_request(&by_post).await.unwrap().unwrap();
    s.record_review(NewReview {
        read_at: reviewed.updated_at,
        withheld: vec![withheld("item-2")],
        ..review.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        s.withheld_items(&by_post).await.unwrap(),
        vec![withheld("item-2")]
    );
    assert!(s.review_recorded(&by_post).await.unwrap());
    assert_eq!(
        s.reviewed_items(&by_post).await.unwrap(),
        vec![("item-1".to_owned(), 1), ("item-2".to_owned(), 2)]
    );
    assert!(s.reviewed_items(&public_id).await.unwrap().is_empty());
    let reviewed = s.find_access_request(&by_post).await.unwrap().unwrap();
    s.change_access_request(AccessRequestChange {
        public_id: by_post.clone(),
        from_state: SarState::InReview,
        read_at: reviewed.updated_at,
        state: SarState::Fulfilled,
        pauses: Vec::new(),
        extension: None,
        event: "fulfilled",
        actor_kind: ActorKind::Staff,
        actor_account: Some(amelia.id),
        note: None,
        at: at(6, 14),
        audit: audit_row(&amelia, patient, action::SAR_CHANGED),
        answer: Some(NewAnswer {
            content: "{\"copy\":true}".to_owned(),
            available_until: at(20, 14),
        }),
    })
    .await
    .unwrap();
    let answer = s.access_request_answer(&by_post).await.unwrap().unwrap();
    assert_eq!(answer.content, "{\"copy\":true}");
    assert_eq!(answer.available_until, at(20, 14));
    assert_eq!(s.access_request_answer(&public_id).await.unwrap(), None);
    // Past its time, the answer is swept away.
    assert_eq!(s.delete_expired_answers(at(20, 13)).await.unwrap(), 0);
    assert_eq!(s.delete_expired_answers(at(20, 14)).await.unwrap(), 1);
    assert_eq!(s.access_request_answer(&by_post).await.unwrap(), None);
    // A fulfilled request's review cannot change.
    let done = s.find_access_request(&by_post).await.unwrap().unwrap();
    assert!(matches!(
        s.record_review(NewReview {
            read_at: done.updated_at,
            ..review
        })
        .await,
        Err(StorageError::Conflict(_))
    ));
}
