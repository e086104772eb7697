//! The vocabulary of the audit trail: who acted, in what capacity, doing what, with what
//! outcome. Audit rows are written by storage methods in the same transaction as the
//! action they record (domain rules, "Audit"); this module only names things, so the
//! names are the same wherever they are written or read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, OrganisationId, PatientId};

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
    pub const RECORD_VIEWED: &str = "record.viewed";
    pub const FEED_RECEIVED: &str = "feed.received";
    pub const ORGANISATION_CREATED: &str = "organisation.created";
    pub const CREDENTIAL_ROTATED: &str = "organisation.credential_rotated";
    pub const CREDENTIAL_REVOKED: &str = "organisation.credential_revoked";
    pub const SIGNED_IN: &str = "auth.signed_in";
    pub const SIGNED_OUT: &str = "auth.signed_out";
    pub const SIGN_IN_REFUSED: &str = "auth.sign_in_refused";
    pub const RELEASE_RULES_CHANGED: &str = "release_rules.changed";
    pub const PRIVACY_LABELS_REAPPLIED: &str = "privacy.labels_reapplied";
    pub const ATTACHMENT_VIEWED: &str = "record.attachment_viewed";
    // Proxy access: every grant decision, by whoever made it.
    pub const PROXY_INVITED: &str = "proxy.invited";
    pub const PROXY_INVITATION_WITHDRAWN: &str = "proxy.invitation_withdrawn";
    pub const PROXY_INVITATION_OPENED: &str = "proxy.invitation_opened";
    pub const PROXY_INVITATION_ACCEPTED: &str = "proxy.invitation_accepted";
    pub const PROXY_ACTING_FOR: &str = "proxy.acting_for";
    pub const PROXY_APPLIED: &str = "proxy.applied";
    pub const PROXY_APPLICATION_CHECKED: &str = "proxy.application_checked";
    pub const PROXY_GRANTED: &str = "proxy.granted";
    pub const PROXY_REFUSED: &str = "proxy.refused";
    pub const PROXY_GRANTS_VIEWED: &str = "proxy.grants_viewed";
    pub const PROXY_GRANT_CHANGED: &str = "proxy.grant_changed";
    pub const PROXY_GRANT_SUSPENDED: &str = "proxy.grant_suspended";
    pub const PROXY_GRANT_RESUMED: &str = "proxy.grant_resumed";
    pub const PROXY_GRANT_REVOKED: &str = "proxy.grant_revoked";
    pub const PROXY_GRANT_CONSENTED: &str = "proxy.grant_consented";
    pub const PROXY_GRANT_EXPIRED: &str = "proxy.grant_expired";
    pub const PROXY_GRANT_LAPSED: &str = "proxy.grant_lapsed";
    pub const PROXY_GRANT_SUSPENDED_AT_AGE: &str = "proxy.grant_suspended_at_age";
    // The patient's choices, made online or recorded by the service desk.
    pub const CHOICE_LEFT_PORTAL: &str = "choice.left_portal";
    pub const CHOICE_RETURNED: &str = "choice.returned";
    pub const CHOICE_OBJECTED: &str = "choice.objected";
    pub const CHOICE_OBJECTION_WITHDRAWN: &str = "choice.objection_withdrawn";
    // The service desk console: every look-up and action, with the agent's account.
    pub const DESK_PATIENT_FOUND: &str = "desk.patient_found";
    pub const DESK_PATIENT_VIEWED: &str = "desk.patient_viewed";
    pub const DESK_ACCOUNT_UNLINKED: &str = "desk.account_unlinked";
    pub const DESK_HELD_ITEMS_LISTED: &str = "desk.held_items_listed";
    pub const DESK_HELD_ITEM_VIEWED: &str = "desk.held_item_viewed";
    pub const DESK_HELD_ITEM_MATCHED: &str = "desk.held_item_matched";
    pub const DESK_HELD_ITEM_RETURNED: &str = "desk.held_item_returned";

    /// Every action code above, so that readers of the trail (the patient's log) can
    /// be checked to know them all.
    pub const ALL: [&str; 40] = [
        RECORD_VIEWED,
        FEED_RECEIVED,
        ORGANISATION_CREATED,
        CREDENTIAL_ROTATED,
        CREDENTIAL_REVOKED,
        SIGNED_IN,
        SIGNED_OUT,
        SIGN_IN_REFUSED,
        RELEASE_RULES_CHANGED,
        PRIVACY_LABELS_REAPPLIED,
        ATTACHMENT_VIEWED,
        PROXY_INVITED,
        PROXY_INVITATION_WITHDRAWN,
        PROXY_INVITATION_OPENED,
        PROXY_INVITATION_ACCEPTED,
        PROXY_ACTING_FOR,
        PROXY_APPLIED,
        PROXY_APPLICATION_CHECKED,
        PROXY_GRANTED,
        PROXY_REFUSED,
        PROXY_GRANTS_VIEWED,
        PROXY_GRANT_CHANGED,
        PROXY_GRANT_SUSPENDED,
        PROXY_GRANT_RESUMED,
        PROXY_GRANT_REVOKED,
        PROXY_GRANT_CONSENTED,
        PROXY_GRANT_EXPIRED,
        PROXY_GRANT_LAPSED,
        PROXY_GRANT_SUSPENDED_AT_AGE,
        CHOICE_LEFT_PORTAL,
        CHOICE_RETURNED,
        CHOICE_OBJECTED,
        CHOICE_OBJECTION_WITHDRAWN,
        DESK_PATIENT_FOUND,
        DESK_PATIENT_VIEWED,
        DESK_ACCOUNT_UNLINKED,
        DESK_HELD_ITEMS_LISTED,
        DESK_HELD_ITEM_VIEWED,
        DESK_HELD_ITEM_MATCHED,
        DESK_HELD_ITEM_RETURNED,
    ];
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
