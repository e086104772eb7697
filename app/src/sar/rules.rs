//! The rules of subject access requests (UK GDPR article 15, DPA 2018, the Data (Use and
//! Access) Act 2025; `shared/docs/domain.md`, "Subject access requests"; the ICO's
//! guidance on time limits):
//!
//! - **the clock**: a response is due one calendar month after the request is received:
//!   the same day number in the next month, or that month's last day when it has no such
//!   day (31 January to 28 or 29 February). Days the clock was paused (waiting for
//!   identity evidence or a clarification that is genuinely needed) are added. A due
//!   date on a weekend or an England and Wales bank holiday moves to the next working
//!   day. A complex request may be extended by up to two further months, only if the
//!   requester is told within the first month, with the reason;
//! - **the state machine**: received, awaiting identity or clarification (clock paused),
//!   in review, fulfilled or refused (with the reason and the right to complain to the
//!   ICO); fulfilled and refused are final.
//!
//! Pure: dates in, a decision out; the caller passes today and the bank holidays.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// England and Wales bank holidays (gov.uk/bank-holidays), the default list; a trust
/// replaces or extends it in its settings as years are announced.
pub const ENGLAND_AND_WALES_BANK_HOLIDAYS: [&str; 32] = [
    "2025-01-01",
    "2025-04-18",
    "2025-04-21",
    "2025-05-05",
    "2025-05-26",
    "2025-08-25",
    "2025-12-25",
    "2025-12-26",
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28",
    "2027-01-01",
    "2027-03-26",
    "2027-03-29",
    "2027-05-03",
    "2027-05-31",
    "2027-08-30",
    "2027-12-27",
    "2027-12-28",
    "2028-01-03",
    "2028-04-14",
    "2028-04-17",
    "2028-05-01",
    "2028-05-29",
    "2028-08-28",
    "2028-12-25",
    "2028-12-26",
];

/// The days on which no response is due.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BankHolidays(Vec<NaiveDate>);

impl BankHolidays {
    pub fn new(mut days: Vec<NaiveDate>) -> Self {
        days.sort_unstable();
        days.dedup();
        Self(days)
    }

    /// The built-in England and Wales list.
    pub fn england_and_wales() -> Self {
        Self::new(
            ENGLAND_AND_WALES_BANK_HOLIDAYS
                .iter()
                .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .collect(),
        )
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && self.0.binary_search(&day).is_err()
    }

    /// `day` itself if it is a working day, otherwise the next one.
    pub fn next_working_day(&self, mut day: NaiveDate) -> NaiveDate {
        while !self.is_working_day(day) {
            day = day.succ_opt().unwrap_or(day);
        }
        day
    }
}

/// `months` calendar months after `day`: the same day number, or the last day of the
/// month when it has no such day.
pub fn months_after(day: NaiveDate, months: u32) -> NaiveDate {
    // chrono's `checked_add_months` clamps to the month's last day, as the rule says.
    day.checked_add_months(Months::new(months)).unwrap_or(day)
}

/// A time the clock stood still, from the day the requester was asked to the day they
/// answered (`None`: still waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Pause {
    /// Days the clock stood still: from the day asked to the day answered.
    fn days(&self) -> Option<i64> {
        self.until
            .map(|until| (until - self.from).num_days().max(0))
    }
}

/// An extension for a complex request: how many further months, and when the requester
/// was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub months: u32,
    pub told_on: NaiveDate,
    pub reason: String,
}

/// The facts the clock is worked out from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SarClock {
    pub received: NaiveDate,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
}

/// Where the clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Running: the response is due by this day.
    By(NaiveDate),
    /// Stopped since this day, waiting for the requester; the due date moves on by
    /// every day it stays stopped.
    Paused { since: NaiveDate },
}

/// The due date: see the module documentation.
pub fn due(clock: &SarClock, holidays: &BankHolidays) -> Due {
    if let Some(open) = clock.pauses.iter().find(|p| p.until.is_none()) {
        return Due::Paused { since: open.from };
    }
    let months = 1 + clock.extension.as_ref().map_or(0, |e| e.months);
    // A pause counts only if it began while the request was still in time: stopping
    // the clock after the deadline cannot hide that it was missed.
    let mut pauses: Vec<&Pause> = clock.pauses.iter().collect();
    pauses.sort_by_key(|p| p.from);
    let mut due = holidays.next_working_day(months_after(clock.received, months));
    let mut paused = 0;
    for pause in pauses {
        if pause.from > due {
            continue;
        }
        paused += pause.days().unwrap_or(0);
        due = holidays.next_working_day(
            months_after(clock.received, months) + chrono::Duration::days(paused),
        );
    }
    Due::By(due)
}

/// The due date without any extension: the end of "the first month", by which an
/// extension must have been told.
pub fn first_month_ends(clock: &SarClock, holidays: &BankHolidays) -> Due {
    due(
        &SarClock {
            extension: None,
            ..clock.clone()
        },
        holidays,
    )
}

/// Why an extension cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionRefusal {
    /// Only one or two further months.
    TooLong,
    /// The requester was not told within the first month (it ended on this day).
    TooLate { first_month_ended: NaiveDate },
    /// The clock is paused: extend once it runs again.
    Paused,
    /// A request is extended once.
    AlreadyExtended,
    /// Extending needs the reason the requester is told.
    NoReason,
}

/// Decides an extension told to the requester on `told_on`.
pub fn decide_extension(
    clock: &SarClock,
    months: u32,
    told_on: NaiveDate,
    reason: &str,
    holidays: &BankHolidays,
) -> Result<Extension, ExtensionRefusal> {
    if clock.extension.is_some() {
        return Err(ExtensionRefusal::AlreadyExtended);
    }
    if !(1..=2).contains(&months) {
        return Err(ExtensionRefusal::TooLong);
    }
    if reason.trim().is_empty() {
        return Err(ExtensionRefusal::NoReason);
    }
    match first_month_ends(clock, holidays) {
        Due::Paused { .. } => Err(ExtensionRefusal::Paused),
        Due::By(first_month_ended) if told_on > first_month_ended => {
            Err(ExtensionRefusal::TooLate { first_month_ended })
        }
        Due::By(_) => Ok(Extension {
            months,
            told_on,
            reason: reason.trim().to_owned(),
        }),
    }
}

/// How soon a running request is due, for the desk's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    /// Due within [`DUE_SOON_DAYS`].
    DueSoon,
    OnTime,
    Paused,
}

/// "Due soon" means within this many days.
pub const DUE_SOON_DAYS: i64 = 7;

pub fn urgency(due: Due, today: NaiveDate) -> Urgency {
    match due {
        Due::Paused { .. } => Urgency::Paused,
        Due::By(day) if today > day => Urgency::Overdue,
        Due::By(day) if (day - today).num_days() <= DUE_SOON_DAYS => Urgency::DueSoon,
        Due::By(_) => Urgency::OnTime,
    }
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SarState {
    Received,
    /// Waiting for identity evidence (a request by post, phone or email): paused.
    AwaitingIdentity,
    /// Waiting for a clarification that is genuinely needed: paused.
    AwaitingClarification,
    /// A clinical reviewer checks for serious harm and third-party information.
    InReview,
    Fulfilled,
    /// Refused, with the reason and the right to complain to the ICO.
    Refused,
}

impl SarState {
    pub const ALL: [SarState; 6] = [
        SarState::Received,
        SarState::AwaitingIdentity,
        SarState::AwaitingClarification,
        SarState::InReview,
        SarState::Fulfilled,
        SarState::Refused,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SarState::Received => "received",
            SarState::AwaitingIdentity => "awaiting_identity",
            SarState::AwaitingClarification => "awaiting_clarification",
            SarState::InReview => "in_review",
            SarState::Fulfilled => "fulfilled",
            SarState::Refused => "refused",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// As the requester and the desk read it.
    pub fn label(self) -> &'static str {
        match self {
            SarState::Received => "Received",
            SarState::AwaitingIdentity => "Waiting for proof of identity",
            SarState::AwaitingClarification => "Waiting for more information from you",
            SarState::InReview => "Being prepared",
            SarState::Fulfilled => "Ready",
            SarState::Refused => "Refused",
        }
    }

    pub fn pauses_the_clock(self) -> bool {
        matches!(
            self,
            SarState::AwaitingIdentity | SarState::AwaitingClarification
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, SarState::Fulfilled | SarState::Refused)
    }
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SarEvent {
    AskForIdentity,
    IdentityVerified,
    AskForClarification,
    Clarified,
    StartReview,
    Fulfil,
    Refuse,
}

impl SarEvent {
    /// The code kept in the request's history.
    pub fn code(self) -> &'static str {
        match self {
            SarEvent::AskForIdentity => "asked_for_identity",
            SarEvent::IdentityVerified => "identity_verified",
            SarEvent::AskForClarification => "asked_for_clarification",
            SarEvent::Clarified => "clarified",
            SarEvent::StartReview => "review_started",
            SarEvent::Fulfil => "fulfilled",
            SarEvent::Refuse => "refused",
        }
    }
}

/// The clock's pauses after a change of state: entering a pausing state opens one on
/// `today`, leaving it closes the open one on `today`.
pub fn pauses_after(
    pauses: &[Pause],
    from: SarState,
    to: SarState,
    today: NaiveDate,
) -> Vec<Pause> {
    let mut pauses = pauses.to_vec();
    if from.pauses_the_clock() && !to.pauses_the_clock() {
        for pause in pauses.iter_mut().filter(|p| p.until.is_none()) {
            pause.until = Some(today.max(pause.from));
        }
    }
    if !from.pauses_the_clock() && to.pauses_the_clock() {
        pauses.push(Pause {
            from: today,
            until: None,
        });
    }
    pauses
}

/// What a request covers: everything, or some sections of the record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestScope {
    pub everything: bool,
    #[serde(default)]
    pub sections: Vec<crate::proxy::rules::Section>,
}

/// A change a request's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAllowed {
    pub from: SarState,
    pub event: SarEvent,
}

/// The request's next state, or why the event does not apply. A request is never
/// fulfilled before its identity is settled, and nothing changes a final state.
pub fn transition(from: SarState, event: SarEvent) -> Result<SarState, NotAllowed> {
    use SarEvent::*;
    use SarState::*;
    let to = match (from, event) {
        (Received, AskForIdentity) => AwaitingIdentity,
        (AwaitingIdentity, IdentityVerified) => Received,
        (Received | InReview, AskForClarification) => AwaitingClarification,
        (AwaitingClarification, Clarified) => Received,
        (Received, StartReview) => InReview,
        (InReview, Fulfil) => Fulfilled,
        (Received | AwaitingIdentity | AwaitingClarification | InReview, Refuse) => Refused,
        _ => return Err(NotAllowed { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn clock(
        received: &str,
        pauses: &[(&str, Option<&str>)],
        extension: Option<(u32, &str)>,
    ) -> SarClock {
        SarClock {
            received: d(received),
            pauses: pauses
                .iter()
                .map(|(from, until)| Pause {
                    from: d(from),
                    until: until.map(d),
                })
                .collect(),
            extension: extension.map(|(months, told)| Extension {
                months,
                told_on: d(told),
                reason: "complex".into(),
            }),
        }
    }

    /// Received, pauses (asked, answered), extension (months, told on), due, and why.
    type Case = (
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
        Option<(u32, &'static str)>,
        &'static str,
        &'static str,
    );

    /// The ICO's examples and the awkward cases.
    #[test]
    fn the_due_date_follows_the_calendar_month_rule() {
        let none: &[(&str, Option<&str>)] = &[];
        let cases: Vec<Case> = vec![
            // The same day number next month, or the next working day.
            (
                "2026-09-03",
                none,
                None,
                "2026-10-05",
                "3 Oct 2026 is a Saturday: the Monday",
            ),
            (
                "2026-11-10",
                none,
                None,
                "2026-12-10",
                "a Thursday, due that day",
            ),
            (
                "2026-11-12",
                none,
                None,
                "2026-12-14",
                "12 Dec 2026 is a Saturday",
            ),
            // No such day: the month's last day.
            (
                "2027-01-31",
                none,
                None,
                "2027-03-01",
                "31 Jan to 28 Feb, a Sunday: the Monday",
            ),
            (
                "2028-01-31",
                none,
                None,
                "2028-02-29",
                "a leap year: 29 Feb 2028, a Tuesday",
            ),
            ("2026-03-31", none, None, "2026-04-30", "31 Mar to 30 Apr"),
            ("2026-08-31", none, None, "2026-09-30", "31 Aug to 30 Sep"),
            // Bank holidays move it on, over the weekend too.
            (
                "2026-11-25",
                none,
                None,
                "2026-12-29",
                "25 Dec, then 26-27 weekend, 28 substitute day",
            ),
            (
                "2027-02-26",
                none,
                None,
                "2027-03-30",
                "26 Mar Good Friday, 29 Easter Monday",
            ),
            (
                "2026-07-31",
                none,
                None,
                "2026-09-01",
                "31 Aug 2026 is the summer bank holiday",
            ),
            // Pauses add their days, including across a month end.
            (
                "2026-10-01",
                &[("2026-10-10", Some("2026-10-17"))],
                None,
                "2026-11-09",
                "1 Nov + 7 days = 8 Nov, a Sunday",
            ),
            (
                "2026-01-20",
                &[("2026-01-28", Some("2026-02-04"))],
                None,
                "2026-02-27",
                "20 Feb + 7 days",
            ),
            (
                "2027-01-31",
                &[("2027-02-10", Some("2027-02-13"))],
                None,
                "2027-03-03",
                "28 Feb + 3 days",
            ),
            (
                "2026-10-01",
                &[
                    ("2026-10-02", Some("2026-10-04")),
                    ("2026-10-20", Some("2026-10-21")),
                ],
                None,
                "2026-11-04",
                "two pauses, 3 days",
            ),
            // Extensions: one or two further months from receipt, plus pauses.
            (
                "2026-10-01",
                none,
                Some((2, "2026-10-15")),
                "2027-01-04",
                "1 Jan 2027 is a bank holiday, then a weekend",
            ),
            (
                "2026-10-01",
                none,
                Some((1, "2026-10-15")),
                "2026-12-01",
                "two months",
            ),
            (
                "2026-12-31",
                none,
                Some((2, "2027-01-20")),
                "2027-03-31",
                "31 Mar",
            ),
            (
                "2026-10-01",
                &[("2026-10-10", Some("2026-10-17"))],
                Some((1, "2026-10-20")),
                "2026-12-08",
                "1 Dec + 7",
            ),
        ];
        let holidays = BankHolidays::england_and_wales();
        for (received, pauses, extension, expected, why) in cases {
            assert_eq!(
                due(&clock(received, pauses, extension), &holidays),
                Due::By(d(expected)),
                "received {received}: {why}"
            );
        }
    }

    #[test]
    fn a_pause_begun_after_the_deadline_does_not_hide_the_breach() {
        let holidays = BankHolidays::england_and_wales();
        // Received 1 October 2026, due Monday 2 November; paused 10 to 20 November.
        let late = clock("2026-10-01", &[("2026-11-10", Some("2026-11-20"))], None);
        assert_eq!(due(&late, &holidays), Due::By(d("2026-11-02")));
        assert_eq!(
            urgency(due(&late, &holidays), d("2026-11-21")),
            Urgency::Overdue
        );
        // Nor can it open the way to an extension told too late.
        assert!(matches!(
            decide_extension(&late, 1, d("2026-11-11"), "late", &holidays),
            Err(ExtensionRefusal::TooLate { .. })
        ));
        // A pause in time that pushes the deadline on lets a second one count.
        let chained = clock(
            "2026-10-01",
            &[
                ("2026-11-01", Some("2026-11-11")),
                ("2026-11-11", Some("2026-11-12")),
            ],
            None,
        );
        assert_eq!(due(&chained, &holidays), Due::By(d("2026-11-12")));
    }

    #[test]
    fn a_pause_still_open_stops_the_clock() {
        let paused = clock("2026-10-01", &[("2026-10-10", None)], None);
        assert_eq!(
            due(&paused, &BankHolidays::england_and_wales()),
            Due::Paused {
                since: d("2026-10-10")
            }
        );
        assert_eq!(
            urgency(
                Due::Paused {
                    since: d("2026-10-10")
                },
                d("2027-01-01")
            ),
            Urgency::Paused
        );
    }

    #[test]
    fn an_extension_must_be_told_within_the_first_month_and_be_one_or_two_months() {
        let holidays = BankHolidays::england_and_wales();
        let c = clock("2026-10-01", none_pauses(), None);
        assert_eq!(
            decide_extension(
                &c,
                2,
                d("2026-11-02"),
                "many records from many sources",
                &holidays
            )
            .unwrap()
            .months,
            2
        );
        // 1 Nov 2026 is a Sunday: the first month ends on Monday 2 Nov.
        assert_eq!(
            decide_extension(&c, 2, d("2026-11-03"), "late", &holidays),
            Err(ExtensionRefusal::TooLate {
                first_month_ended: d("2026-11-02")
            })
        );
        assert_eq!(
            decide_extension(&c, 3, d("2026-10-05"), "x", &holidays),
            Err(ExtensionRefusal::TooLong)
        );
        assert_eq!(
            decide_extension(&c, 0, d("2026-10-05"), "x", &holidays),
            Err(ExtensionRefusal::TooLong)
        );
        assert_eq!(
            decide_extension(&c, 1, d("2026-10-05"), " ", &holidays),
            Err(ExtensionRefusal::NoReason)
        );
        let extended = clock("2026-10-01", none_pauses(), Some((1, "2026-10-05")));
        assert_eq!(
            decide_extension(&extended, 1, d("2026-10-06"), "x", &holidays),
            Err(ExtensionRefusal::AlreadyExtended)
        );
        let paused = clock("2026-10-01", &[("2026-10-10", None)], None);
        assert_eq!(
            decide_extension(&paused, 1, d("2026-10-12"), "x", &holidays),
            Err(ExtensionRefusal::Paused)
        );
        // A pause moves the end of the first month too.
        let was_paused = clock("2026-10-01", &[("2026-10-10", Some("2026-10-20"))], None);
        assert!(decide_extension(&was_paused, 1, d("2026-11-10"), "x", &holidays).is_ok());
    }

    fn none_pauses() -> &'static [(&'static str, Option<&'static str>)] {
        &[]
    }

    #[test]
    fn urgency_marks_overdue_and_due_soon() {
        let due_on = Due::By(d("2026-12-10"));
        assert_eq!(urgency(due_on, d("2026-12-11")), Urgency::Overdue);
        assert_eq!(urgency(due_on, d("2026-12-10")), Urgency::DueSoon);
        assert_eq!(urgency(due_on, d("2026-12-03")), Urgency::DueSoon);
        assert_eq!(urgency(due_on, d("2026-12-02")), Urgency::OnTime);
    }

    #[test]
    fn bank_holidays_and_weekends_are_not_working_days() {
        let holidays = BankHolidays::england_and_wales();
        assert!(!holidays.is_working_day(d("2026-12-25")));
        assert!(
            !holidays.is_working_day(d("2026-12-28")),
            "substitute for Boxing Day"
        );
        assert!(!holidays.is_working_day(d("2026-12-05")), "a Saturday");
        assert!(holidays.is_working_day(d("2026-12-29")));
        assert_eq!(holidays.next_working_day(d("2026-12-25")), d("2026-12-29"));
        assert_eq!(
            BankHolidays::default().next_working_day(d("2026-12-25")),
            d("2026-12-25")
        );
    }

    #[test]
    fn a_pause_opens_when_the_clock_stops_and_closes_when_it_runs_again() {
        use SarState::*;
        let opened = pauses_after(&[], Received, AwaitingIdentity, d("2026-10-10"));
        assert_eq!(
            opened,
            vec![Pause {
                from: d("2026-10-10"),
                until: None
            }]
        );
        let closed = pauses_after(&opened, AwaitingIdentity, Received, d("2026-10-17"));
        assert_eq!(
            closed,
            vec![Pause {
                from: d("2026-10-10"),
                until: Some(d("2026-10-17"))
            }]
        );
        // Between two running states nothing changes.
        assert_eq!(
            pauses_after(&closed, Received, InReview, d("2026-10-18")),
            closed
        );
        // From review back to a question and on again: a second pause.
        let asked = pauses_after(&closed, InReview, AwaitingClarification, d("2026-10-20"));
        let answered = pauses_after(&asked, AwaitingClarification, Received, d("2026-10-22"));
        assert_eq!(answered.len(), 2);
        assert_eq!(
            answered[1],
            Pause {
                from: d("2026-10-20"),
                until: Some(d("2026-10-22"))
            }
        );
        // Refused while paused: the pause ends with it.
        let refused = pauses_after(&asked, AwaitingClarification, Refused, d("2026-10-21"));
        assert_eq!(refused[1].until, Some(d("2026-10-21")));
        for state in SarState::ALL {
            assert_eq!(SarState::from_code(state.code()), Some(state));
        }
    }

    #[test]
    fn the_state_machine_pauses_resumes_and_ends() {
        use SarEvent::*;
        use SarState::*;
        let path = [
            AskForIdentity,
            IdentityVerified,
            StartReview,
            AskForClarification,
            Clarified,
            StartReview,
            Fulfil,
        ];
        let mut state = Received;
        let mut paused = Vec::new();
        for event in path {
            state = transition(state, event).unwrap();
            paused.push(state.pauses_the_clock());
        }
        assert_eq!(state, Fulfilled);
        assert_eq!(paused, vec![true, false, false, true, false, false, false]);
        // Final states take nothing.
        for event in path {
            assert!(transition(Fulfilled, event).is_err());
            assert!(transition(Refused, event).is_err());
        }
        // Never fulfilled before identity and review.
        assert_eq!(
            transition(AwaitingIdentity, Fulfil),
            Err(NotAllowed {
                from: AwaitingIdentity,
                event: Fulfil
            })
        );
        assert!(transition(Received, Fulfil).is_err());
        // Refusal is possible from every open state.
        for open in [Received, AwaitingIdentity, AwaitingClarification, InReview] {
            assert_eq!(transition(open, Refuse), Ok(Refused));
            assert!(!open.is_final());
        }
    }
}
