//! Reading a patient's record for one reader: who the reader is and on what basis
//! (`crate::access`), one storage read with its audit row in the same transaction, the
//! rule set, the clock, and then the one access decision over every item. Server
//! functions and the attachment route call [`RecordReader::read`]; nothing here hands
//! out a stored item that the decision has not passed.
//!
//! The reader is the signed-in person, on their own record or, when they chose to act
//! for someone, on that patient's record under their grant (`crate::proxy`): the same
//! read and the same decision, with the grant as the basis. Signed-out visitors are
//! told to sign in, P5 and P0 users see nothing clinical. The patient id always comes
//! from the session (its own record, or the grant it chose, which must be the
//! person's own and in force), never from the request, so no argument can point a
//! reader at someone else's record.

use chrono::{DateTime, Utc};

use super::AppState;
use super::SignedIn;
use super::storage::{Account, NewAuditEvent, RecordQuery};
use crate::access::{self, Basis, DecidedRecord, Reader, Refusal};
use crate::audit::{ActorKind, action};
use crate::domain::PatientId;
use crate::error::AppError;
use crate::records::view::SourceFreshness;
use crate::release::{ReleaseRule, RuleSet};

/// Every item of the record is read: an item is decided with its relatives, and a limit
/// applied before the decision could cut a report from the result that hides it.
const WHOLE_RECORD: u32 = u32::MAX;

pub struct RecordReader {
    pub state: AppState,
    pub account: Account,
    pub reader: Reader,
    pub patient_id: PatientId,
    pub basis: Basis,
    pub now: DateTime<Utc>,
    request_id: Option<String>,
}

impl RecordReader {
    /// The request's signed-in patient reading their own record, or the error to show.
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
        Self::for_signed_in(state, viewer.patient, request_id)
    }

    /// The rules of [`current`](Self::current), for callers outside a server function
    /// (the attachment route): the person's own record, or the record of the patient
    /// they chose to act for.
    pub fn for_signed_in(
        state: AppState,
        signed_in: Option<SignedIn>,
        request_id: Option<String>,
    ) -> Result<Self, AppError> {
        let signed_in = signed_in.ok_or(AppError::NotSignedIn)?;
        let account = signed_in.account;
        let reader = Reader::of(&account);
        let now = state.clock.now();
        let decided = match signed_in.acting_for {
            Some(record) => access::proxy_record(&reader, record.grant, state.proxy.age_rules, now),
            None => access::own_record(&reader),
        };
        let (patient_id, basis) = decided.map_err(|refusal| match refusal {
            Refusal::IdentityNotVerified | Refusal::NoRecord => AppError::IdentityNotVerified,
            Refusal::NotTheirRecord | Refusal::GrantNotInForce | Refusal::PatientLeftPortal => {
                AppError::ProxyAccessEnded
            }
        })?;
        Ok(Self {
            state,
            account,
            reader,
            patient_id,
            basis,
            now,
            request_id,
        })
    }

    /// The patient reading their own record, whatever record they are reading now (the
    /// "Your choices" page is about their own record even while they act for someone).
    pub fn own(
        state: AppState,
        account: Account,
        request_id: Option<String>,
    ) -> Result<Self, AppError> {
        let reader = Reader::of(&account);
        let (patient_id, basis) =
            access::own_record(&reader).map_err(|_| AppError::IdentityNotVerified)?;
        let now = state.clock.now();
        Ok(Self {
            state,
            account,
            reader,
            patient_id,
            basis,
            now,
            request_id,
        })
    }

    /// The sources the patient could object to: those of everything the decision would
    /// show them if they objected to nothing (so an objected source is still listed, to
    /// be withdrawn), and the patient's choices as they stand. Only for the patient's
    /// own record, and only while they have not left the portal.
    pub async fn sources_before_objections(
        &self,
    ) -> Result<(Vec<SourceFreshness>, crate::choices::rules::PatientChoices), AppError> {
        if self.is_proxy() {
            return Err(AppError::NotFound);
        }
        let query = RecordQuery {
            limit: WHOLE_RECORD,
            ..RecordQuery::for_patient(self.patient_id)
        };
        let read = self
            .state
            .storage
            .read_record(
                query,
                self.audit(action::RECORD_VIEWED, "choices".to_owned()),
            )
            .await?;
        if access::check_choices(&read.choices).is_err() {
            return Err(AppError::LeftPortal);
        }
        let without_objections = crate::choices::rules::PatientChoices {
            objections: Vec::new(),
            ..read.choices.clone()
        };
        let record = access::decide_record(
            &self.reader,
            self.patient_id,
            &self.basis,
            &without_objections,
            read.items,
            &in_force(read.rules),
            self.now,
        );
        let sources = super::record_view::sources_of(&record, &read.organisations);
        Ok((sources, read.choices))
    }

    /// The audit row for this read. The patient's own views are marked as such (actor
    /// kind Patient, and the actor's record is the record read); a proxy's read is the
    /// proxy's own action on the patient's record, naming the grant it was made under.
    fn audit(&self, action: &'static str, target: String) -> NewAuditEvent {
        let (actor_kind, reason) = match &self.basis {
            Basis::OwnRecord => (ActorKind::Patient, "own_record".to_owned()),
            Basis::Proxy { grant, .. } => (ActorKind::Proxy, format!("grant:{}", grant.public_id)),
        };
        NewAuditEvent {
            actor_account: Some(self.account.id),
            patient: Some(self.patient_id),
            target: Some(target),
            request_id: self.request_id.clone(),
            reason: Some(reason),
            ..NewAuditEvent::new(self.now, actor_kind, action)
        }
    }

    /// Whether the reader is acting for someone (and so sees only what the grant opens).
    pub fn is_proxy(&self) -> bool {
        matches!(self.basis, Basis::Proxy { .. })
    }

    /// The whole record as this reader may know it, and the sources of what they may
    /// know: one storage read, audited as `target`, then the access decision. Every item
    /// is read whatever the page shows, because an item is decided with its relatives
    /// (a result with its report, a report with the PDF of it).
    pub async fn read(&self, target: String) -> Result<ReadRecord, AppError> {
        self.read_for(action::RECORD_VIEWED, target).await
    }

    /// [`read`](Self::read), audited as `action` (a download is not a page view).
    pub async fn read_for(
        &self,
        action: &'static str,
        target: String,
    ) -> Result<ReadRecord, AppError> {
        let query = RecordQuery {
            limit: WHOLE_RECORD,
            ..RecordQuery::for_patient(self.patient_id)
        };
        let read = self
            .state
            .storage
            .read_record(query, self.audit(action, target))
            .await?;
        // The patient's choices come first: after leaving the portal nobody reads the
        // record here (a proxy's grants were suspended too; this holds even if one
        // was not).
        if access::check_choices(&read.choices).is_err() {
            return Err(if self.is_proxy() {
                AppError::ProxyAccessEnded
            } else {
                AppError::LeftPortal
            });
        }
        let rules = in_force(read.rules);
        let record = access::decide_record(
            &self.reader,
            self.patient_id,
            &self.basis,
            &read.choices,
            read.items,
            &rules,
            self.now,
        );
        let sources = super::record_view::sources_of(&record, &read.organisations);
        Ok(ReadRecord { record, sources })
    }
}

/// What a record page works from: see [`RecordReader::read`].
pub struct ReadRecord {
    pub record: DecidedRecord,
    /// Only the sources of items the reader may know about.
    pub sources: Vec<SourceFreshness>,
}

/// The saved rule set, or with none saved an empty one, under which every result is
/// held for a clinician (a missing rule never opens a result early).
pub(crate) fn in_force(saved: Option<RuleSet>) -> RuleSet {
    saved.unwrap_or(RuleSet {
        version: 0,
        rules: Vec::<ReleaseRule>::new(),
    })
}
