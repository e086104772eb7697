//! "Who viewed my record" (`shared/docs/domain.md`, "Audit and who viewed my record"):
//! the patient's audit rows in plain language: who read or acted on their record, what
//! part, when, and on whose behalf. Every action code the portal writes with a patient
//! is described here or deliberately left out ([`LEFT_OUT`], and docs/access-log.md says
//! why); a test checks that no code is forgotten.
//!
//! Pure: an audit row and the actor's name in, a line or nothing out.

use serde::{Deserialize, Serialize};

use super::{ActorKind, AuditEvent, action};

/// Who acted, as the patient's log groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// The patient themselves.
    You,
    /// Someone acting for the patient under a grant, or applying to.
    Proxy,
    /// Service desk staff.
    ServiceDesk,
    /// The portal itself (a grant ending by the clock).
    Portal,
}

impl Who {
    pub const ALL: [Who; 4] = [Who::You, Who::Proxy, Who::ServiceDesk, Who::Portal];

    pub fn code(self) -> &'static str {
        match self {
            Who::You => "you",
            Who::Proxy => "proxy",
            Who::ServiceDesk => "desk",
            Who::Portal => "portal",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Who::You => "You",
            Who::Proxy => "People acting for you",
            Who::ServiceDesk => "The service desk",
            Who::Portal => "The portal",
        }
    }

    /// The actor kinds a filter on this group selects.
    pub fn actor_kinds(self) -> &'static [ActorKind] {
        match self {
            Who::You => &[ActorKind::Patient],
            Who::Proxy => &[ActorKind::Proxy],
            Who::ServiceDesk => &[ActorKind::Staff],
            Who::Portal => &[ActorKind::System],
        }
    }
}

/// Actions the patient's own account takes just by using the portal: their own views,
/// downloads and sign-ins, shown only when they ask. Someone acting for them doing the
/// same is always shown.
pub const OWN_VIEWS: [&str; 5] = [
    action::RECORD_VIEWED,
    action::ATTACHMENT_VIEWED,
    action::SIGNED_IN,
    action::RECORD_DOWNLOADED,
    action::SAR_ANSWER_DOWNLOADED,
];

/// Actions never shown in a patient's log, and why (docs/access-log.md):
/// - `auth.signed_out`, `auth.sign_in_refused`: about the session, not the record;
/// - `proxy.invitation_opened`: the invitee checking a code, before any access (the
///   acceptance that follows is shown);
/// - `desk.held_item_matched_unshown`: the desk matched a held item that the portal
///   never shows (a sexual health result, say): a line with nothing new in the record
///   would show that something is hidden.
///
/// [`WITHOUT_PATIENT`] lists those written without a patient.
pub const LEFT_OUT: [&str; 4] = [
    action::SIGNED_OUT,
    action::SIGN_IN_REFUSED,
    action::PROXY_INVITATION_OPENED,
    action::DESK_HELD_ITEM_MATCHED_UNSHOWN,
];

/// Actions written without a patient, which no patient's log can show: the feed's
/// deliveries and a sender reading back what it sent itself, organisations and their credentials, release rules and privacy labels
/// (the portal's own settings), and the desk's held-item views and returns (an item
/// nobody was matched to).
pub const WITHOUT_PATIENT: [&str; 10] = [
    action::FEED_RECEIVED,
    action::FEED_READ_BACK,
    action::ORGANISATION_CREATED,
    action::CREDENTIAL_ROTATED,
    action::CREDENTIAL_REVOKED,
    action::RELEASE_RULES_CHANGED,
    action::PRIVACY_LABELS_REAPPLIED,
    action::DESK_HELD_ITEMS_LISTED,
    action::DESK_HELD_ITEM_VIEWED,
    action::DESK_HELD_ITEM_RETURNED,
];

/// One line of the patient's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub who: Who,
    /// "You", "Daniel Hart", "Jordan Okoro (service desk)".
    pub name: String,
    /// What they did, in plain words: "Viewed your test results".
    pub what: String,
    /// Why, where the portal knows: the desk's reason for looking.
    pub why: Option<String>,
}

/// The part of the record a read target names.
fn part(target: Option<&str>) -> &'static str {
    let target = target.unwrap_or_default();
    let head = target.split(':').next().unwrap_or_default();
    match head {
        "summary" => "the overview of your record",
        "appointments" => "your appointments",
        "letters" => "your letters",
        "letter" if target.ends_with(":attachment") => "an attachment to a letter",
        "letter" => "a letter",
        "results" => "your test results",
        "result" => "a test result",
        "history" => "the history of a test result",
        "choices" => "your choices",
        _ => "your record",
    }
}

/// A desk row's reason code in the words the patient reads: the look-up reasons the
/// agent picks from (`lookup`), and the codes the portal writes itself.
pub fn reason_in_words(
    code: &str,
    lookup: impl Fn(&str) -> Option<&'static str>,
) -> Option<String> {
    if let Some(words) = lookup(code) {
        return Some(words.to_owned());
    }
    let words = match code {
        "wrong_match" => "The account had been linked to the wrong person's record",
        "proxy_verification" => "Checking an application to see your record",
        "age_review" => "The regular review of a parent's access to a child's record",
        "patient_left_portal" => "You left the portal",
        "patient_returned" => "You came back to the portal",
        "confirmed_with_sender" => "The sender confirmed the record is yours",
        "nhs_number_on_item" => "The record carried your NHS number",
        "channel:post" => "You asked by post",
        "channel:phone" => "You asked by phone",
        "channel:in_person" => "You asked in person",
        "channel:email" => "You asked by email",
        "subject_access_request" => "A request for a copy of your data",
        _ if code.contains("refusal=") => "The evidence did not support the application",
        _ if code.starts_with("basis=") => "The evidence was checked",
        _ => return None,
    };
    Some(words.to_owned())
}

/// The plain-language line for a row of the patient's log, or `None` for a row left
/// out. `by_the_patient` says whether the actor's account is linked to this record now
/// (their own actions are "You"); `actor_name` is the actor's name as their account
/// holds it; `lookup` turns a desk look-up reason code into the words the agent picked.
pub fn describe(
    event: &AuditEvent,
    by_the_patient: bool,
    actor_name: Option<&str>,
    lookup: impl Fn(&str) -> Option<&'static str>,
) -> Option<LogLine> {
    if LEFT_OUT.contains(&event.action.as_str()) {
        return None;
    }
    let who = match event.actor_kind {
        ActorKind::Patient => Who::You,
        ActorKind::Proxy => Who::Proxy,
        ActorKind::Staff => Who::ServiceDesk,
        ActorKind::System => Who::Portal,
        ActorKind::Sender | ActorKind::Anonymous => return None,
    };
    let applying = event.action == action::PROXY_APPLIED;
    let name = match who {
        Who::You if by_the_patient => "You".to_owned(),
        // An account once linked to this record and unlinked since (a wrong match):
        // never named, as it may be someone else.
        Who::You => "An NHS login account once linked to your record".to_owned(),
        // Someone applying is not named until the desk has checked their evidence.
        Who::Proxy if applying => "Someone applying to act for you".to_owned(),
        Who::Proxy => actor_name.unwrap_or("Someone acting for you").to_owned(),
        Who::ServiceDesk => match actor_name {
            Some(name) => format!("{name} (service desk)"),
            None => "The service desk".to_owned(),
        },
        Who::Portal => "The portal".to_owned(),
    };
    let target = event.target.as_deref();
    let what: String = match event.action.as_str() {
        action::RECORD_VIEWED => format!("Viewed {}", part(target)),
        action::ATTACHMENT_VIEWED => "Opened an attachment to a letter".to_owned(),
        action::SIGNED_IN => "Signed in".to_owned(),
        action::PROXY_INVITED => "Invited someone to see your record".to_owned(),
        action::PROXY_INVITATION_WITHDRAWN => "Withdrew an invitation".to_owned(),
        action::PROXY_INVITATION_ACCEPTED => "Accepted an invitation to see your record".to_owned(),
        action::PROXY_ACTING_FOR => "Opened your record to act for you".to_owned(),
        action::PROXY_APPLIED => "Applied to see your record on your behalf".to_owned(),
        action::PROXY_APPLICATION_CHECKED => "Checked an application to see your record".to_owned(),
        action::PROXY_GRANTED => "Gave someone access to your record".to_owned(),
        action::PROXY_REFUSED => "Refused an application to see your record".to_owned(),
        action::PROXY_GRANTS_VIEWED => "Looked at who can see your record".to_owned(),
        action::PROXY_GRANT_CHANGED => "Changed what someone can see".to_owned(),
        action::PROXY_GRANT_SUSPENDED => "Paused someone's access to your record".to_owned(),
        action::PROXY_GRANT_RESUMED => "Resumed someone's access to your record".to_owned(),
        action::PROXY_GRANT_REVOKED => "Stopped someone's access to your record".to_owned(),
        action::PROXY_GRANT_CONSENTED => "Agreed to a parent's access continuing".to_owned(),
        action::PROXY_GRANT_EXPIRED => "Ended someone's access on its end date".to_owned(),
        action::PROXY_GRANT_LAPSED => "Ended someone's access after a long time unused".to_owned(),
        action::PROXY_GRANT_SUSPENDED_AT_AGE => {
            "Paused a parent's access when you turned 16".to_owned()
        }
        action::CHOICE_LEFT_PORTAL => "Recorded that you left the portal".to_owned(),
        action::CHOICE_RETURNED => "Recorded that you came back to the portal".to_owned(),
        action::CHOICE_OBJECTED => "Stopped showing an organisation's records".to_owned(),
        action::CHOICE_OBJECTION_WITHDRAWN => "Showed an organisation's records again".to_owned(),
        action::DESK_PATIENT_FOUND => "Looked up your record (no health information)".to_owned(),
        action::DESK_PATIENT_VIEWED => {
            "Viewed your account and choices (no health information)".to_owned()
        }
        action::DESK_ACCOUNT_UNLINKED => {
            "Unlinked an NHS login account from your record".to_owned()
        }
        action::DESK_HELD_ITEM_MATCHED => {
            "Added a record a sender could not match to you".to_owned()
        }
        action::SAR_REQUESTED => "Asked for a copy of your data".to_owned(),
        action::SAR_VIEWED => "Looked at a request for a copy of your data".to_owned(),
        action::SAR_CHANGED => "Moved a request for a copy of your data on".to_owned(),
        action::SAR_LOGGED => {
            "Logged a request for a copy of your data that came by post, phone or email".to_owned()
        }
        action::SAR_REVIEWED => {
            "Recorded the clinical review of a request for a copy of your data".to_owned()
        }
        action::SAR_ANSWER_PREPARED => "Prepared the copy of your data you asked for".to_owned(),
        action::SAR_ANSWER_DOWNLOADED => "Downloaded the copy of your data".to_owned(),
        action::RECORD_DOWNLOADED => "Downloaded a copy of your record".to_owned(),
        other => format!("Did something on your record ({other})"),
    };
    let why = match who {
        Who::ServiceDesk => Some(
            event
                .reason
                .as_deref()
                .and_then(|code| reason_in_words(code, &lookup))
                .unwrap_or_else(|| "No reason recorded".to_owned()),
        ),
        _ => None,
    };
    Some(LogLine {
        who,
        name,
        what,
        why,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::audit::AuditOutcome;
    use crate::domain::PatientId;
    use chrono::{TimeZone, Utc};

    use crate::domain::AccountId;

    fn row(
        kind: ActorKind,
        account: Option<i64>,
        what: &str,
        target: Option<&str>,
        reason: Option<&str>,
    ) -> AuditEvent {
        AuditEvent {
            id: 1,
            at: Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap(),
            actor_kind: kind,
            actor_account: account.map(AccountId),
            actor_org: None,
            patient: Some(PatientId(1)),
            action: what.to_owned(),
            target: target.map(str::to_owned),
            outcome: AuditOutcome::Allowed,
            reason: reason.map(str::to_owned),
            request_id: None,
        }
    }

    fn words(code: &str) -> Option<&'static str> {
        (code == "letter").then_some("A letter or form from the patient")
    }

    #[test]
    fn a_desk_look_up_names_the_agent_and_their_reason() {
        let line = describe(
            &row(
                ActorKind::Staff,
                Some(9),
                action::DESK_PATIENT_FOUND,
                None,
                Some("letter"),
            ),
            false,
            Some("Jordan Okoro"),
            words,
        )
        .unwrap();
        assert_eq!(line.who, Who::ServiceDesk);
        assert_eq!(line.name, "Jordan Okoro (service desk)");
        assert_eq!(
            line.why.as_deref(),
            Some("A letter or form from the patient")
        );
    }

    #[test]
    fn a_proxy_read_names_the_proxy_and_the_part_read() {
        let line = describe(
            &row(
                ActorKind::Proxy,
                Some(5),
                action::RECORD_VIEWED,
                Some("result:abc"),
                Some("grant:g"),
            ),
            false,
            Some("Daniel Hart"),
            words,
        )
        .unwrap();
        assert_eq!((line.who, line.name.as_str()), (Who::Proxy, "Daniel Hart"));
        assert_eq!(line.what, "Viewed a test result");
        assert_eq!(line.why, None, "a grant id is not for the log");
    }

    #[test]
    fn the_patients_own_actions_are_theirs_and_an_unlinked_account_is_never_named() {
        let mine = row(
            ActorKind::Patient,
            Some(1),
            action::RECORD_VIEWED,
            Some("letters"),
            None,
        );
        let line = describe(&mine, true, Some("Amelia Hart"), words).unwrap();
        assert_eq!((line.who, line.name.as_str()), (Who::You, "You"));
        assert_eq!(line.what, "Viewed your letters");
        // The same row by an account since unlinked (a wrong match): not named.
        let theirs = describe(&mine, false, Some("Someone Else"), words).unwrap();
        assert_eq!(theirs.who, Who::You);
        assert!(!theirs.name.contains("Someone Else"));
    }

    #[test]
    fn someone_applying_is_not_named() {
        let line = describe(
            &row(
                ActorKind::Proxy,
                Some(5),
                action::PROXY_APPLIED,
                None,
                Some("court_deputy"),
            ),
            false,
            Some("Daniel Hart"),
            words,
        )
        .unwrap();
        assert!(!line.name.contains("Daniel"));
    }

    #[test]
    fn every_desk_row_says_why_in_words() {
        for code in [
            "wrong_match",
            "proxy_verification",
            "age_review",
            "channel:post",
            "confirmed_with_sender",
            "basis=court_deputy;refusal=not_matched",
            "basis=lasting_power_of_attorney;ends=none",
        ] {
            let row = row(
                ActorKind::Staff,
                Some(9),
                action::DESK_ACCOUNT_UNLINKED,
                None,
                Some(code),
            );
            let why = describe(&row, false, None, words).unwrap().why.unwrap();
            assert!(
                !why.contains(code) && why != "No reason recorded",
                "{code}: {why}"
            );
        }
        let unexplained = row(
            ActorKind::Staff,
            Some(9),
            action::PROXY_GRANTS_VIEWED,
            None,
            None,
        );
        assert_eq!(
            describe(&unexplained, false, None, words)
                .unwrap()
                .why
                .as_deref(),
            Some("No reason recorded")
        );
    }

    #[test]
    fn every_action_the_portal_writes_is_described_left_out_on_purpose_or_without_a_patient() {
        for &code in action::ALL {
            if WITHOUT_PATIENT.contains(&code) {
                continue;
            }
            let line = describe(
                &row(ActorKind::Staff, Some(9), code, None, None),
                false,
                None,
                words,
            );
            match line {
                Some(line) => assert!(!line.what.contains(code), "{code} has no words"),
                None => assert!(
                    LEFT_OUT.contains(&code),
                    "{code} dropped without saying why"
                ),
            }
        }
    }

    #[test]
    fn filters_round_trip_through_their_codes() {
        for who in Who::ALL {
            assert_eq!(Who::from_code(who.code()), Some(who));
        }
    }
}
