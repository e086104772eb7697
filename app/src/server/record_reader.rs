//! Reading the signed-in patient's own record: who may read it, one storage read with
//! its audit row in the same transaction, the rule set, and the clock. Server functions
//! and the attachment route call these; the decisions themselves are in `record_view`.
//!
//! Only a P9 patient whose account is linked to a record gets past [`PatientReader::
//! current`]: signed-out visitors are told to sign in, P5 and P0 users see nothing
//! clinical. The patient id always comes from the session, never from the request, so
//! no argument can point a patient at someone else's record.

use chrono::{DateTime, Utc};

use super::AppState;
use super::record_view::*;
use super::storage::{Account, NewAuditEvent, PatientId, RecordItem, RecordQuery};
use crate::audit::{ActorKind, action};
use crate::error::AppError;
use crate::records::RecordKind;
use crate::records::view::*;
use crate::release::{ReleaseRule, RuleSet};

/// How many items one page read may return. A patient with more sees the newest.
const READ_LIMIT: u32 = 5_000;

pub struct PatientReader {
    pub state: AppState,
    pub account: Account,
    pub patient_id: PatientId,
    pub now: DateTime<Utc>,
    request_id: Option<String>,
}

impl PatientReader {
    /// The reader for the request's signed-in patient, or the error to show.
    pub async fn current() -> Result<Self, AppError> {
        let state = leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| AppError::internal(&"no state"))?;
        let viewer = super::current_viewer().await;
        let headers = leptos_axum::extract::<http::HeaderMap>().await.ok();
        let request_id = headers
            .as_ref()
            .and_then(|h| h.get("x-request-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Self::for_account(state, viewer.patient.map(|p| p.account), request_id)
    }

    /// The rules of [`current`](Self::current), for callers outside a server function
    /// (the attachment route).
    pub fn for_account(
        state: AppState,
        account: Option<Account>,
        request_id: Option<String>,
    ) -> Result<Self, AppError> {
        let account = account.ok_or(AppError::NotSignedIn)?;
        let verified = account.identity_level.as_deref() == Some("P9");
        let patient_id = match (verified, account.patient_id) {
            (true, Some(patient_id)) => patient_id,
            _ => return Err(AppError::IdentityNotVerified),
        };
        let now = state.clock.now();
        Ok(Self {
            state,
            account,
            patient_id,
            now,
            request_id,
        })
    }

    /// The audit row for a read of this patient's record by themselves.
    fn audit(&self, target: String) -> NewAuditEvent {
        NewAuditEvent {
            actor_account: Some(self.account.id),
            patient: Some(self.patient_id),
            target: Some(target),
            request_id: self.request_id.clone(),
            // The patient's own views are marked as such: actor kind Patient, and the
            // actor's record is the record read.
            reason: Some("own_record".to_owned()),
            ..NewAuditEvent::new(self.now, ActorKind::Patient, action::RECORD_VIEWED)
        }
    }

    /// The rule set in force. With none saved every result is held (fail safe).
    pub async fn rules(&self) -> Result<RuleSet, AppError> {
        Ok(in_force(self.state.storage.current_release_rules().await?))
    }

    /// The patient's visible items of these kinds (every kind when empty), the rule set
    /// in force and the sources they came from: one storage read, audited as `target`.
    pub async fn read(&self, kinds: &[RecordKind], target: String) -> Result<PageRead, AppError> {
        let query = RecordQuery {
            kinds: kinds.to_vec(),
            exclude_labels: crate::privacy::excluded_labels(),
            limit: READ_LIMIT,
            ..RecordQuery::for_patient(self.patient_id)
        };
        let read = self
            .state
            .storage
            .read_record(query, self.audit(target))
            .await?;
        let sources = sources_of(&read.items, &read.organisations);
        Ok(PageRead {
            items: read.items,
            rules: in_force(read.rules),
            sources,
        })
    }

    /// One item of the patient's by public id, audited; `None` when it is not theirs,
    /// not shown, or does not exist (the caller cannot tell which, and neither can the
    /// patient).
    pub async fn item(
        &self,
        public_id: &str,
        target: String,
    ) -> Result<Option<RecordItem>, AppError> {
        Ok(self
            .state
            .storage
            .get_record_item(
                self.patient_id,
                public_id,
                &crate::privacy::excluded_labels(),
                self.audit(target),
            )
            .await?)
    }

    /// Every result the patient may know about (decided), and the sources.
    pub async fn results(
        &self,
        target: String,
    ) -> Result<(Vec<ResultEntry>, Vec<SourceFreshness>), AppError> {
        let read = self
            .read(
                &[RecordKind::DiagnosticReport, RecordKind::Observation],
                target,
            )
            .await?;
        Ok((
            result_entries(&read.items, &read.rules, self.now),
            read.sources,
        ))
    }
}

/// What a record page works from: see [`PatientReader::read`].
pub struct PageRead {
    pub items: Vec<RecordItem>,
    pub rules: RuleSet,
    pub sources: Vec<SourceFreshness>,
}

/// The saved rule set, or with none saved an empty one, under which every result is
/// held for a clinician (a missing rule never opens a result early).
fn in_force(saved: Option<RuleSet>) -> RuleSet {
    saved.unwrap_or(RuleSet {
        version: 0,
        rules: Vec::<ReleaseRule>::new(),
    })
}
