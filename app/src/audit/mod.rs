//! The vocabulary of the audit trail: who acted, in what capacity, doing what, with what
//! outcome. Audit rows are written by storage methods in the same transaction as the
//! action they record (domain rules, "Audit"); this module only names things, so the
//! names are the same wherever they are written or read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, OrganisationId, PatientId};

#[cfg(feature = "ssr")]
pub mod chain;
pub mod log;

/// In what capacity someone acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The patient, on their own record.
    Patient,
    /// Someone acting for a patient under a proxy grant.
    Proxy,
    /// Service desk staff.
    Staff,
    /// A source organisation's feed.
    Sender,
    /// The portal itself (scheduled jobs, seeding).
    System,
    /// Someone not yet signed in (refused sign-ins).
    Anonymous,
}

impl ActorKind {
    pub const ALL: [ActorKind; 6] = [
        ActorKind::Patient,
        ActorKind::Proxy,
        ActorKind::Staff,
        ActorKind::Sender,
        ActorKind::System,
        ActorKind::Anonymous,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ActorKind::Patient => "patient",
            ActorKind::Proxy => "proxy",
            ActorKind::Staff => "staff",
            ActorKind::Sender => "sender",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Whether the action went ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Allowed,
    Refused,
}

impl AuditOutcome {
    pub fn code(self) -> &'static str {
        match self {
            AuditOutcome::Allowed => "allowed",
            AuditOutcome::Refused => "refused",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "allowed" => Some(AuditOutcome::Allowed),
            "refused" => Some(AuditOutcome::Refused),
            _ => None,
        }
    }
}

/// Stable action codes. Adding one is fine; renaming one breaks the meaning of old rows.
pub mod action {
    /// Declares the action codes and [`ALL`], from one list, so that no code can be
    /// added without readers of the trail (the patient's log) being checked to know it.
    macro_rules! actions {
        ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
            $($(#[$doc])* pub const $name: &str = $code;)*
            /// Every action code, in the order declared.
            pub const ALL: &[&str] = &[$($name),*];
        };
    }

    actions! {
        RECORD_VIEWED = "record.viewed",
        FEED_RECEIVED = "feed.received",
        /// A sender reading back a resource it sent (`GET /fhir/...`).
        FEED_READ_BACK = "feed.read_back",
        ORGANISATION_CREATED = "organisation.created",
        CREDENTIAL_ROTATED = "organisation.credential_rotated",
        CREDENTIAL_REVOKED = "organisation.credential_revoked",
        SIGNED_IN = "auth.signed_in",
        SIGNED_OUT = "auth.signed_out",
        SIGN_IN_REFUSED = "auth.sign_in_refused",
        RELEASE_RULES_CHANGED = "release_rules.changed",
        PRIVACY_LABELS_REAPPLIED = "privacy.labels_reapplied",
        ATTACHMENT_VIEWED = "record.attachment_viewed",
        // Proxy access: every grant decision, by whoever made it.
        PROXY_INVITED = "proxy.invited",
        PROXY_INVITATION_WITHDRAWN = "proxy.invitation_withdrawn",
        PROXY_INVITATION_OPENED = "proxy.invitation_opened",
        PROXY_INVITATION_ACCEPTED = "proxy.invitation_accepted",
        PROXY_ACTING_FOR = "proxy.acting_for",
        PROXY_APPLIED = "proxy.applied",
        PROXY_APPLICATION_CHECKED = "proxy.application_checked",
        PROXY_GRANTED = "proxy.granted",
        PROXY_REFUSED = "proxy.refused",
        PROXY_GRANTS_VIEWED = "proxy.grants_viewed",
        PROXY_GRANT_CHANGED = "proxy.grant_changed",
        PROXY_GRANT_SUSPENDED = "proxy.grant_suspended",
        PROXY_GRANT_RESUMED = "proxy.grant_resumed",
        PROXY_GRANT_REVOKED = "proxy.grant_revoked",
        PROXY_GRANT_CONSENTED = "proxy.grant_consented",
        PROXY_GRANT_EXPIRED = "proxy.grant_expired",
        PROXY_GRANT_LAPSED = "proxy.grant_lapsed",
        PROXY_GRANT_SUSPENDED_AT_AGE = "proxy.grant_suspended_at_age",
        // The patient's choices, made online or recorded by the service desk.
        CHOICE_LEFT_PORTAL = "choice.left_portal",
        CHOICE_RETURNED = "choice.returned",
        CHOICE_OBJECTED = "choice.objected",
        CHOICE_OBJECTION_WITHDRAWN = "choice.objection_withdrawn",
        // The service desk console: every look-up and action, with the agent's account.
        DESK_PATIENT_FOUND = "desk.patient_found",
        DESK_PATIENT_VIEWED = "desk.patient_viewed",
        DESK_ACCOUNT_UNLINKED = "desk.account_unlinked",
        DESK_HELD_ITEMS_LISTED = "desk.held_items_listed",
        DESK_HELD_ITEM_VIEWED = "desk.held_item_viewed",
        DESK_HELD_ITEM_MATCHED = "desk.held_item_matched",
        DESK_HELD_ITEM_MATCHED_UNSHOWN = "desk.held_item_matched_unshown",
        DESK_HELD_ITEM_RETURNED = "desk.held_item_returned",
        // Subject access requests.
        SAR_REQUESTED = "sar.requested",
        SAR_VIEWED = "sar.viewed",
        SAR_CHANGED = "sar.changed",
        /// The desk logged a request that came by post, phone or email.
        SAR_LOGGED = "sar.logged",
        /// A clinical review of a request's items was recorded.
        SAR_REVIEWED = "sar.reviewed",
        /// The answer to a request was prepared from the record.
        SAR_ANSWER_PREPARED = "sar.answer_prepared",
        SAR_ANSWER_DOWNLOADED = "sar.answer_downloaded",
        // "Download my record".
        RECORD_DOWNLOADED = "record.downloaded",
    }
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub actor_account: Option<AccountId>,
    pub actor_org: Option<OrganisationId>,
    /// Whose record the action touched.
    pub patient: Option<PatientId>,
    /// A stable code from `audit::action`.
    pub action: &'static str,
    /// What part of the record, or which item (public ids only).
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    /// A reason code, never free text from a request and never a token.
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

impl NewAuditEvent {
    /// An allowed action with nothing but the essentials set; fill in the rest with
    /// struct update syntax.
    pub fn new(at: DateTime<Utc>, actor_kind: ActorKind, action: &'static str) -> Self {
        Self {
            at,
            actor_kind,
            actor_account: None,
            actor_org: None,
            patient: None,
            action,
            target: None,
            outcome: AuditOutcome::Allowed,
            reason: None,
            request_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub actor_account: Option<AccountId>,
    pub actor_org: Option<OrganisationId>,
    pub patient: Option<PatientId>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}
