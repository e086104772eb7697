//! The SQL of subject access requests.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::{Conn, Query, SqlStorage, from_millis, new_public_id, to_millis};
use crate::audit::ActorKind;
use crate::domain::{AccountId, PatientId};
use crate::export::WithholdingGround;
use crate::sar::rules::{Extension, Pause, RequestScope, SarState};
use crate::server::storage::{
    AccessRequestChange, AccessRequestEvent, AccessRequestStore, NewAccessRequest, NewReview,
    StorageError, StoredAccessRequest, StoredAnswer, WithheldItem,
};

const REQUEST_COLUMNS: &str = "SELECT public_id, patient_id, requested_by_account_id, \
     requester_kind, channel, scope, date_from, date_to, note, received_on, state, pauses, \
     extension, created_at, updated_at FROM access_requests ";

#[derive(sqlx::FromRow)]
struct RequestRow {
    public_id: String,
    patient_id: i64,
    requested_by_account_id: Option<i64>,
    requester_kind: String,
    channel: String,
    scope: String,
    date_from: Option<String>,
    date_to: Option<String>,
    note: Option<String>,
    received_on: String,
    state: String,
    pauses: String,
    extension: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn day(text: &str, what: &'static str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| StorageError::Corrupt(what))
}

fn json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|_| StorageError::Corrupt(what))
}

impl TryFrom<RequestRow> for StoredAccessRequest {
    type Error = StorageError;
    fn try_from(row: RequestRow) -> Result<Self, StorageError> {
        Ok(StoredAccessRequest {
            public_id: row.public_id,
            patient: PatientId(row.patient_id),
            requested_by: row.requested_by_account_id.map(AccountId),
            requester_kind: row.requester_kind,
            channel: row.channel,
            scope: serde_json::from_str::<RequestScope>(&row.scope)
                .map_err(|_| StorageError::Corrupt("access_requests.scope"))?,
            date_from: row
                .date_from
                .as_deref()
                .map(|d| day(d, "access_requests.date_from"))
                .transpose()?,
            date_to: row
                .date_to
                .as_deref()
                .map(|d| day(d, "access_requests.date_to"))
                .transpose()?,
            note: row.note,
            received_on: day(&row.received_on, "access_requests.received_on")?,
            state: SarState::from_code(&row.state)
                .ok_or(StorageError::Corrupt("access_requests.state"))?,
            pauses: serde_json::from_str::<Vec<Pause>>(&row.pauses)
                .map_err(|_| StorageError::Corrupt("access_requests.pauses"))?,
            extension: row
                .extension
                .as_deref()
                .map(|e| {
                    serde_json::from_str::<Extension>(e)
                        .map_err(|_| StorageError::Corrupt("access_requests.extension"))
                })
                .transpose()?,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut Conn,
    request_id: i64,
    at: i64,
    event: &str,
    actor_kind: ActorKind,
    actor_account: Option<AccountId>,
    note: Option<&str>,
    state_after: SarState,
) -> Result<(), StorageError> {
    Query::new(
        "INSERT INTO access_request_events (request_id, occurred_at, event, actor_kind, \
         actor_account_id, note, state_after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(request_id)
    .bind(at)
    .bind(event)
    .bind(actor_kind.code())
    .bind(actor_account.map(|a| a.0))
    .bind(note)
    .bind(state_after.code())
    .execute(tx)
    .await?;
    Ok(())
}

#[async_trait]
impl AccessRequestStore for SqlStorage {
    async fn create_access_request(
        &self,
        request: NewAccessRequest,
    ) -> Result<String, StorageError> {
        let public_id = new_public_id();
        let at = to_millis(request.at);
        let date_from = request.date_from.map(|d| d.to_string());
        let date_to = request.date_to.map(|d| d.to_string());
        let mut tx = self.write().await?;
        let id: i64 = Query::new(
            "INSERT INTO access_requests (public_id, patient_id, requested_by_account_id, \
             requester_kind, channel, scope, date_from, date_to, note, received_on, state, \
             pauses, extension, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, NULL, $13, $13) RETURNING id",
        )
        .bind(public_id.as_str())
        .bind(request.patient.0)
        .bind(request.requested_by.0)
        .bind(request.requester_kind.code())
        .bind(request.channel)
        .bind(json(&request.scope, "access request scope")?)
        .bind(date_from.as_deref())
        .bind(date_to.as_deref())
        .bind(request.note.as_deref())
        .bind(request.received_on.to_string())
        .bind(request.state.code())
        .bind(json(&request.pauses, "access request pauses")?)
        .bind(at)
        .fetch_scalar(&mut tx)
        .await?;
        let kind = match request.requester_kind {
            super::super::RequesterKind::Patient => ActorKind::Patient,
            super::super::RequesterKind::Proxy => ActorKind::Proxy,
            super::super::RequesterKind::Desk => ActorKind::Staff,
        };
        insert_event(
            &mut tx,
            id,
            at,
            "received",
            kind,
            Some(request.requested_by),
            None,
            request.state,
        )
        .await?;
        insert_audit(&mut tx, request.audit).await?;
        tx.commit().await?;
        Ok(public_id)
    }

    async fn access_requests_for_patient(
        &self,
        patient: PatientId,
    ) -> Result<Vec<StoredAccessRequest>, StorageError> {
        let mut sql = Query::new(REQUEST_COLUMNS);
        sql.push("WHERE patient_id = ")
            .push_bind(patient.0)
            .push(" ORDER BY created_at DESC, id DESC");
        sql.fetch_all::<RequestRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredAccessRequest::try_from)
            .collect()
    }

    async fn open_access_requests(&self) -> Result<Vec<StoredAccessRequest>, StorageError> {
        let mut sql = Query::new(REQUEST_COLUMNS);
        sql.push("WHERE state NOT IN ('fulfilled', 'refused') ORDER BY received_on, id");
        sql.fetch_all::<RequestRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredAccessRequest::try_from)
            .collect()
    }

    async fn find_access_request(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredAccessRequest>, StorageError> {
        let mut sql = Query::new(REQUEST_COLUMNS);
        sql.push("WHERE public_id = ").push_bind(public_id);
        sql.fetch_optional::<RequestRow>(&mut self.read().await?)
            .await?
            .map(StoredAccessRequest::try_from)
            .transpose()
    }

    async fn access_request_history(
        &self,
        public_id: &str,
    ) -> Result<Vec<AccessRequestEvent>, StorageError> {
        let rows: Vec<(i64, String, String, Option<String>, String)> = Query::new(
            "SELECT e.occurred_at, e.event, e.actor_kind, e.note, e.state_after \
             FROM access_request_events e JOIN access_requests r ON r.id = e.request_id \
             WHERE r.public_id = $1 ORDER BY e.occurred_at, e.id",
        )
        .bind(public_id)
        .fetch_all(&mut self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(at, event, actor_kind, note, state_after)| {
                Ok(AccessRequestEvent {
                    at: from_millis(at)?,
                    event,
                    actor_kind: ActorKind::from_code(&actor_kind)
                        .ok_or(StorageError::Corrupt("access_request_events.actor_kind"))?,
                    note,
                    state_after: SarState::from_code(&state_after)
                        .ok_or(StorageError::Corrupt("access_request_events.state_after"))?,
                })
            })
            .collect()
    }

    async fn change_access_request(&self, change: AccessRequestChange) -> Result<(), StorageError> {
        // Always moves on from what was read, even within the same millisecond, so a
        // second change decided on the same reading finds it changed.
        let at = to_millis(change.at).max(to_millis(change.read_at) + 1);
        let extension = change
            .extension
            .as_ref()
            .map(|e| json(e, "access request extension"))
            .transpose()?;
        let mut tx = self.write().await?;
        let id: Option<i64> = Query::new(
            "UPDATE access_requests SET state = $2, pauses = $3, extension = $4, \
             updated_at = $5 WHERE public_id = $1 AND state = $6 AND updated_at = $7 \
             RETURNING id",
        )
        .bind(change.public_id.as_str())
        .bind(change.state.code())
        .bind(json(&change.pauses, "access request pauses")?)
        .bind(extension.as_deref())
        .bind(at)
        .bind(change.from_state.code())
        .bind(to_millis(change.read_at))
        .fetch_optional_scalar(&mut tx)
        .await?;
        let Some(id) = id else {
            return Err(StorageError::Conflict("request changed meanwhile"));
        };
        insert_event(
            &mut tx,
            id,
            at,
            change.event,
            change.actor_kind,
            change.actor_account,
            change.note.as_deref(),
            change.state,
        )
        .await?;
        if let Some(answer) = &change.answer {
            Query::new(
                "INSERT INTO access_request_answers (request_id, content, prepared_at, \
                 available_until) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(answer.content.as_str())
            .bind(at)
            .bind(to_millis(answer.available_until))
            .execute(&mut tx)
            .await?;
        }
        insert_audit(&mut tx, change.audit).await?;
        tx.commit().await
    }

    async fn record_review(&self, review: NewReview) -> Result<(), StorageError> {
        let at = to_millis(review.at).max(to_millis(review.read_at) + 1);
        let mut tx = self.write().await?;
        let id: Option<i64> = Query::new(
            "UPDATE access_requests SET updated_at = $2, reviewed_items = $4 \
             WHERE public_id = $1 AND state = 'in_review' AND updated_at = $3 RETURNING id",
        )
        .bind(review.public_id.as_str())
        .bind(at)
        .bind(to_millis(review.read_at))
        .bind(json(&review.reviewed, "reviewed items")?)
        .fetch_optional_scalar(&mut tx)
        .await?;
        let Some(id) = id else {
            return Err(StorageError::Conflict("request changed meanwhile"));
        };
        Query::new("DELETE FROM access_request_withheld WHERE request_id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        for item in &review.withheld {
            Query::new(
                "INSERT INTO access_request_withheld (request_id, item_public_id, exemption, \
                 reason, reviewer, recorded_by_account_id, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(item.item_public_id.as_str())
            .bind(item.exemption.code())
            .bind(item.reason.as_str())
            .bind(item.reviewer.as_str())
            .bind(review.recorded_by.0)
            .bind(at)
            .execute(&mut tx)
            .await?;
        }
        insert_event(
            &mut tx,
            id,
            at,
            "reviewed",
            ActorKind::Staff,
            Some(review.recorded_by),
            None,
            SarState::InReview,
        )
        .await?;
        insert_audit(&mut tx, review.audit).await?;
        tx.commit().await
    }

    async fn withheld_items(&self, public_id: &str) -> Result<Vec<WithheldItem>, StorageError> {
        let rows: Vec<(String, String, String, String)> = Query::new(
            "SELECT w.item_public_id, w.exemption, w.reason, w.reviewer \
             FROM access_request_withheld w JOIN access_requests r ON r.id = w.request_id \
             WHERE r.public_id = $1 ORDER BY w.id",
        )
        .bind(public_id)
        .fetch_all(&mut self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(item_public_id, exemption, reason, reviewer)| {
                Ok(WithheldItem {
                    item_public_id,
                    exemption: WithholdingGround::from_code(&exemption)
                        .ok_or(StorageError::Corrupt("access_request_withheld.exemption"))?,
                    reason,
                    reviewer,
                })
            })
            .collect()
    }

    async fn review_recorded(&self, public_id: &str) -> Result<bool, StorageError> {
        // The latest review, or entry into review, decides: a review recorded before
        // the request went back for clarification does not count.
        let last: Option<String> = Query::new(
            "SELECT e.event FROM access_request_events e \
             JOIN access_requests r ON r.id = e.request_id \
             WHERE r.public_id = $1 AND e.event IN ('reviewed', 'review_started') \
             ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1",
        )
        .bind(public_id)
        .fetch_optional_scalar(&mut self.read().await?)
        .await?;
        Ok(last.as_deref() == Some("reviewed"))
    }

    async fn reviewed_items(&self, public_id: &str) -> Result<Vec<(String, i64)>, StorageError> {
        let reviewed: Option<Option<String>> =
            Query::new("SELECT reviewed_items FROM access_requests WHERE public_id = $1")
                .bind(public_id)
                .fetch_optional_scalar(&mut self.read().await?)
                .await?;
        match reviewed.flatten() {
            Some(text) => serde_json::from_str(&text)
                .map_err(|_| StorageError::Corrupt("access_requests.reviewed_items")),
            None => Ok(Vec::new()),
        }
    }

    async fn delete_expired_answers(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut tx = self.write().await?;
        let removed = Query::new("DELETE FROM access_request_answers WHERE available_until <= $1")
            .bind(to_millis(now))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn access_request_answer(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredAnswer>, StorageError> {
        let row: Option<(String, i64, i64)> = Query::new(
            "SELECT a.content, a.prepared_at, a.available_until \
             FROM access_request_answers a JOIN access_requests r ON r.id = a.request_id \
             WHERE r.public_id = $1",
        )
        .bind(public_id)
        .fetch_optional(&mut self.read().await?)
        .await?;
        row.map(|(content, prepared_at, available_until)| {
            Ok(StoredAnswer {
                content,
                prepared_at: from_millis(prepared_at)?,
                available_until: from_millis(available_until)?,
            })
        })
        .transpose()
    }
}
