//! The rules of the patient's choices (`shared/docs/domain.md`, "Choices and
//! opt-outs"), kept distinct because they change different things:
//!
//! - **leaving the portal** stops the patient's own access, suspends every proxy grant
//!   in force and stops notifications; records keep arriving and are kept, because
//!   clinicians use them for direct care. Coming back restores the patient's own access
//!   only: proxies suspended by the leaving are offered back, one by one, never restored
//!   silently;
//! - **objecting to a source** hides that organisation's records from every reader the
//!   portal has (the patient, their proxies, any later reader): the access decision
//!   (`crate::access`) gives its items the hidden outcome with the objection as reason;
//!   the records are still received and kept, and the objection can be withdrawn;
//! - **the national data opt-out** is set nationally (research and planning, not direct
//!   care): the portal explains it and links to it, and stores nothing about it.
//!
//! Pure: the current choices and the change in, a decision with its effects or a
//! refusal with its reason out. Storage records it; nothing here reads a clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::OrganisationId;
use crate::proxy::rules::{GrantId, GrantState};

/// Where the national data opt-out is set (NHS England's service).
pub const NATIONAL_DATA_OPT_OUT_URL: &str = "https://www.nhs.uk/your-nhs-data-matters/";

/// A patient's choices as they stand: what the access decision consults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientChoices {
    /// When the patient left the portal, if they have and have not come back.
    pub left_portal_at: Option<DateTime<Utc>>,
    /// Organisations whose records the patient has asked not to be shown.
    pub objections: Vec<OrganisationId>,
}

impl PatientChoices {
    /// No choices made: everything the other rules allow is shown.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn has_left(&self) -> bool {
        self.left_portal_at.is_some()
    }

    pub fn objects_to(&self, organisation: OrganisationId) -> bool {
        self.objections.contains(&organisation)
    }
}

/// A change a patient (or the service desk on their behalf) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    LeavePortal,
    ReturnToPortal,
    ObjectToSource(OrganisationId),
    WithdrawObjection(OrganisationId),
}

impl Choice {
    /// The code kept in the choice history and the audit trail.
    pub fn code(self) -> &'static str {
        match self {
            Choice::LeavePortal => "left_portal",
            Choice::ReturnToPortal => "returned",
            Choice::ObjectToSource(_) => "objected",
            Choice::WithdrawObjection(_) => "objection_withdrawn",
        }
    }

    pub fn organisation(self) -> Option<OrganisationId> {
        match self {
            Choice::ObjectToSource(org) | Choice::WithdrawObjection(org) => Some(org),
            Choice::LeavePortal | Choice::ReturnToPortal => None,
        }
    }
}

/// How a choice reached the portal: made online by the patient, or recorded by the
/// service desk from a phone call, a letter or a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Phone,
    Post,
    InPerson,
}

impl Channel {
    pub const DESK: [Channel; 3] = [Channel::Phone, Channel::Post, Channel::InPerson];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Phone => "phone",
            Channel::Post => "post",
            Channel::InPerson => "in_person",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            Channel::Online,
            Channel::Phone,
            Channel::Post,
            Channel::InPerson,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Online => "Online",
            Channel::Phone => "By phone",
            Channel::Post => "By post",
            Channel::InPerson => "In person",
        }
    }
}

/// What a choice changes, for the pages to explain and the tests to pin down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// The patient can no longer open their own record in the portal.
    pub stops_own_access: bool,
    /// Proxy grants in force are suspended.
    pub suspends_proxies: bool,
    /// The portal sends no more notifications.
    pub stops_notifications: bool,
    /// Some records are hidden from every reader.
    pub hides_source: bool,
    /// Records from the sources still arrive and are kept: always true, because
    /// clinicians use them for direct care.
    pub records_still_received: bool,
}

/// What each choice changes.
pub fn effects_of(choice: Choice) -> Effects {
    let none = Effects {
        stops_own_access: false,
        suspends_proxies: false,
        stops_notifications: false,
        hides_source: false,
        records_still_received: true,
    };
    match choice {
        Choice::LeavePortal => Effects {
            stops_own_access: true,
            suspends_proxies: true,
            stops_notifications: true,
            ..none
        },
        Choice::ObjectToSource(_) => Effects {
            hides_source: true,
            ..none
        },
        Choice::ReturnToPortal | Choice::WithdrawObjection(_) => none,
    }
}

/// A grant as the choices rules need it: its state and whether the patient's leaving
/// is what suspended it (its latest history entry says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAtChoice {
    pub id: GrantId,
    pub state: GrantState,
    pub suspended_by_leaving: bool,
}

/// Why a change cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceRefusal {
    AlreadyLeft,
    NotLeft,
    AlreadyObjected,
    NoSuchObjection,
    /// Only grants the leaving suspended can be offered back.
    NotOfferedBack(GrantId),
}

/// A change the rules allow, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceDecision {
    pub choice: Choice,
    /// The choices once the change is made.
    pub after: PatientChoices,
    /// Grants to suspend (leaving): every grant active now.
    pub suspend: Vec<GrantId>,
    /// Grants to resume (coming back): only those the patient chose among the ones
    /// the leaving suspended.
    pub resume: Vec<GrantId>,
}

/// The grants offered back to a patient coming back: those the leaving suspended and
/// nobody has changed since (a grant suspended or revoked by a decision stays so).
pub fn offered_back(grants: &[GrantAtChoice]) -> Vec<GrantId> {
    grants
        .iter()
        .filter(|g| g.state == GrantState::Suspended && g.suspended_by_leaving)
        .map(|g| g.id)
        .collect()
}

/// Decides a change against the current choices at `now`. `resume` lists the grants
/// the patient chose to restore when coming back (ignored for other choices).
pub fn decide_choice(
    current: &PatientChoices,
    choice: Choice,
    grants: &[GrantAtChoice],
    resume: &[GrantId],
    now: DateTime<Utc>,
) -> Result<ChoiceDecision, ChoiceRefusal> {
    let mut after = current.clone();
    let mut decision = ChoiceDecision {
        choice,
        after: PatientChoices::none(),
        suspend: Vec::new(),
        resume: Vec::new(),
    };
    match choice {
        Choice::LeavePortal => {
            if current.has_left() {
                return Err(ChoiceRefusal::AlreadyLeft);
            }
            after.left_portal_at = Some(now);
            decision.suspend = grants
                .iter()
                .filter(|g| g.state == GrantState::Active)
                .map(|g| g.id)
                .collect();
        }
        Choice::ReturnToPortal => {
            if !current.has_left() {
                return Err(ChoiceRefusal::NotLeft);
            }
            after.left_portal_at = None;
            let offered = offered_back(grants);
            if let Some(other) = resume.iter().find(|id| !offered.contains(id)) {
                return Err(ChoiceRefusal::NotOfferedBack(*other));
            }
            decision.resume = resume.to_vec();
        }
        Choice::ObjectToSource(org) => {
            if current.objects_to(org) {
                return Err(ChoiceRefusal::AlreadyObjected);
            }
            after.objections.push(org);
        }
        Choice::WithdrawObjection(org) => {
            if !current.objects_to(org) {
                return Err(ChoiceRefusal::NoSuchObjection);
            }
            after.objections.retain(|o| *o != org);
        }
    }
    decision.after = after;
    Ok(decision)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;

    const GP: OrganisationId = OrganisationId(7);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()
    }

    fn grant(id: i64, state: GrantState, suspended_by_leaving: bool) -> GrantAtChoice {
        GrantAtChoice {
            id: GrantId(id),
            state,
            suspended_by_leaving,
        }
    }

    #[test]
    fn leaving_stops_own_access_proxies_and_notifications_but_not_the_records_arriving() {
        let effects = effects_of(Choice::LeavePortal);
        assert!(effects.stops_own_access && effects.suspends_proxies);
        assert!(effects.stops_notifications && effects.records_still_received);
        assert!(!effects.hides_source);
    }

    #[test]
    fn an_objection_hides_one_source_and_stops_nothing_else() {
        let effects = effects_of(Choice::ObjectToSource(GP));
        assert!(effects.hides_source && effects.records_still_received);
        assert!(!effects.stops_own_access && !effects.suspends_proxies);
        assert!(!effects.stops_notifications);
    }

    #[test]
    fn coming_back_and_withdrawing_change_nothing_by_themselves() {
        for choice in [Choice::ReturnToPortal, Choice::WithdrawObjection(GP)] {
            let effects = effects_of(choice);
            assert!(!effects.stops_own_access && !effects.suspends_proxies);
            assert!(!effects.hides_source && effects.records_still_received);
        }
    }

    #[test]
    fn leaving_suspends_every_active_grant_and_leaves_the_others_alone() {
        let grants = [
            grant(1, GrantState::Active, false),
            grant(2, GrantState::Suspended, false),
            grant(3, GrantState::Revoked, false),
            grant(4, GrantState::Active, false),
        ];
        let decision = decide_choice(
            &PatientChoices::none(),
            Choice::LeavePortal,
            &grants,
            &[],
            now(),
        )
        .unwrap();
        assert_eq!(decision.suspend, vec![GrantId(1), GrantId(4)]);
        assert_eq!(decision.after.left_portal_at, Some(now()));
        assert!(decision.resume.is_empty());
    }

    #[test]
    fn leaving_twice_is_refused() {
        let left = PatientChoices {
            left_portal_at: Some(now()),
            ..PatientChoices::none()
        };
        assert_eq!(
            decide_choice(&left, Choice::LeavePortal, &[], &[], now()),
            Err(ChoiceRefusal::AlreadyLeft)
        );
    }

    #[test]
    fn coming_back_restores_only_the_grants_the_patient_picks_among_those_the_leaving_suspended() {
        let left = PatientChoices {
            left_portal_at: Some(now()),
            objections: vec![GP],
        };
        let grants = [
            grant(1, GrantState::Suspended, true),
            grant(2, GrantState::Suspended, false),
            grant(3, GrantState::Suspended, true),
        ];
        assert_eq!(offered_back(&grants), vec![GrantId(1), GrantId(3)]);
        let decision =
            decide_choice(&left, Choice::ReturnToPortal, &grants, &[GrantId(3)], now()).unwrap();
        assert_eq!(decision.resume, vec![GrantId(3)]);
        assert!(!decision.after.has_left());
        // Coming back does not withdraw an objection.
        assert!(decision.after.objects_to(GP));
        // Nothing is restored unless picked.
        let none = decide_choice(&left, Choice::ReturnToPortal, &grants, &[], now()).unwrap();
        assert!(none.resume.is_empty());
        // A grant a decision suspended is not the patient's to restore this way.
        assert_eq!(
            decide_choice(&left, Choice::ReturnToPortal, &grants, &[GrantId(2)], now()),
            Err(ChoiceRefusal::NotOfferedBack(GrantId(2)))
        );
    }

    #[test]
    fn coming_back_without_having_left_is_refused() {
        assert_eq!(
            decide_choice(
                &PatientChoices::none(),
                Choice::ReturnToPortal,
                &[],
                &[],
                now()
            ),
            Err(ChoiceRefusal::NotLeft)
        );
    }

    #[test]
    fn an_objection_is_made_once_and_can_be_withdrawn() {
        let objected = decide_choice(
            &PatientChoices::none(),
            Choice::ObjectToSource(GP),
            &[],
            &[],
            now(),
        )
        .unwrap()
        .after;
        assert!(objected.objects_to(GP));
        assert_eq!(
            decide_choice(&objected, Choice::ObjectToSource(GP), &[], &[], now()),
            Err(ChoiceRefusal::AlreadyObjected)
        );
        let withdrawn =
            decide_choice(&objected, Choice::WithdrawObjection(GP), &[], &[], now()).unwrap();
        assert!(!withdrawn.after.objects_to(GP));
        assert_eq!(
            decide_choice(
                &withdrawn.after,
                Choice::WithdrawObjection(GP),
                &[],
                &[],
                now()
            ),
            Err(ChoiceRefusal::NoSuchObjection)
        );
    }

    #[test]
    fn channels_round_trip_through_their_codes() {
        for channel in [
            Channel::Online,
            Channel::Phone,
            Channel::Post,
            Channel::InPerson,
        ] {
            assert_eq!(Channel::from_code(channel.code()), Some(channel));
        }
        assert_eq!(Channel::from_code("fax"), None);
    }
}
