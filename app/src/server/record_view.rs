//! From a decided record to what a page shows: every record page's data is built here,
//! by pure functions of the [`DecidedRecord`] (items the access decision let through,
//! each with its decision) and `now`, so that pages, server functions, the home summary,
//! counts and the source list all rest on the same decision. Nothing here reads a clock
//! or the database, and nothing here decides: an item's outcome is taken as given, and
//! content is copied only into the variants that may carry it.
//!
//! Results are shown as the lab sent them: a report with its observations, grouped by
//! the access decision's [`relatives`](crate::access::relatives), whatever deliveries
//! they came in.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::storage::Organisation;
use crate::access::{DecidedItem, DecidedRecord, Outcome, Reason};
use crate::records::view::*;
use crate::records::{ItemDetails, ObservedValue, RecordItem, RecordKind};

pub fn provenance_of(item: &RecordItem) -> Provenance {
    Provenance {
        source_name: item.source_name.clone(),
        source_ods_code: item.source_ods_code.as_str().to_owned(),
        received_at: item.first_received_at,
    }
}

/// Appointments the reader may see. An appointment its sender holds back is left out
/// until released: it has no "in progress" form worth showing.
pub fn appointment_entries(record: &DecidedRecord, now: DateTime<Utc>) -> Vec<AppointmentEntry> {
    record
        .items()
        .iter()
        .filter(|d| d.item.kind == RecordKind::Appointment && d.is_shown())
        .map(|DecidedItem { item, .. }| {
            let cancelled = matches!(&item.details, ItemDetails::Appointment { status, .. } if status == "cancelled");
            AppointmentEntry {
                public_id: item.public_id.clone(),
                title: item.title.clone(),
                starts_at: item.occurred_at,
                upcoming: item.occurred_at.is_some_and(|start| start >= now),
                cancelled,
                details: item.details.clone(),
                provenance: provenance_of(item),
            }
        })
        .collect()
}

/// What a page may say of something not shown: withheld until a date, in progress, or
/// held for the clinical team.
fn waiting_state(outcome: Outcome, reason: &Reason) -> Option<Waiting> {
    match outcome {
        Outcome::Shown | Outcome::Hidden => None,
        Outcome::WithheldUntil { opens_at } => Some(Waiting::Until(opens_at)),
        Outcome::HeldForClinicalTeam => Some(match reason {
            Reason::NotFinal { .. } => Waiting::InProgress,
            _ => Waiting::Held,
        }),
    }
}

enum Waiting {
    Until(DateTime<Utc>),
    InProgress,
    Held,
}

/// Letters and other documents, each with as much as its decision allows: a withheld or
/// held document has its title and state, never its text or attachments.
pub fn letter_entries(record: &DecidedRecord) -> Vec<LetterEntry> {
    record
        .items()
        .iter()
        .filter(|d| d.item.kind == RecordKind::Document)
        .map(letter_entry)
        .collect()
}

/// One letter, if the reader may know it exists.
pub fn letter_entry(decided: &DecidedItem) -> LetterEntry {
    let item = &decided.item;
    let content = match waiting_state(decided.decision.outcome, decided.decision.root_reason()) {
        None => LetterContent::Available {
            details: item.details.clone(),
        },
        Some(Waiting::Until(opens_at)) => LetterContent::Withheld { opens_at },
        Some(Waiting::InProgress) => LetterContent::InProgress,
        Some(Waiting::Held) => LetterContent::HeldForClinician,
    };
    // A document's title is often its free-text description, which can say what the
    // document does; one that cannot be shown yet is named by its type alone.
    let title = match (&content, &item.details) {
        (LetterContent::Available { .. }, _) => item.title.clone(),
        (
            _,
            ItemDetails::Document {
                document_type: Some(kind),
                ..
            },
        ) => kind.clone(),
        _ => "Document".to_owned(),
    };
    // One that cannot be shown yet is dated by when it arrived, as a waiting result is:
    // its own date (of the clinic, the operation) is part of what it says, and the date
    // filter must not find it by that date either.
    let occurred_at = match &content {
        LetterContent::Available { .. } => item.occurred_at,
        _ => Some(item.first_received_at),
    };
    LetterEntry {
        public_id: item.public_id.clone(),
        title,
        occurred_at,
        content,
        provenance: provenance_of(item),
    }
}

/// Every result the reader may know about, newest first: each report with its
/// observations, and observations sent without a report (a panel with its members).
pub fn result_entries(record: &DecidedRecord) -> Vec<ResultEntry> {
    let mut order: Vec<usize> = Vec::new();
    let mut groups: HashMap<usize, Vec<&DecidedItem>> = HashMap::new();
    for decided in record.items().iter().filter(|d| {
        matches!(
            d.item.kind,
            RecordKind::DiagnosticReport | RecordKind::Observation
        )
    }) {
        let members = groups.entry(decided.group).or_default();
        if members.is_empty() {
            order.push(decided.group);
        }
        members.push(decided);
    }
    let mut entries = Vec::new();
    for group in order {
        let members = groups.remove(&group).unwrap_or_default();
        entries.extend(group_entries(&members));
    }
    entries
}

/// The entries of one group of relatives: one per report, its observations with it.
fn group_entries(members: &[&DecidedItem]) -> Vec<ResultEntry> {
    // Relatives are decided together, so every member carries the group's outcome; the
    // strictest is taken all the same, so a mistake elsewhere could only withhold more.
    let Some(strictest) = members
        .iter()
        .max_by_key(|d| d.decision.outcome.restriction())
    else {
        return Vec::new();
    };
    let outcome = strictest.decision.outcome;
    let reason = strictest.decision.root_reason();
    let reports: Vec<&DecidedItem> = members
        .iter()
        .copied()
        .filter(|d| d.item.kind == RecordKind::DiagnosticReport)
        .collect();
    let observations: Vec<&DecidedItem> = members
        .iter()
        .copied()
        .filter(|d| d.item.kind == RecordKind::Observation)
        .collect();
    if reports.is_empty() {
        // Observations sent without a report: the panel (the one naming members) heads.
        let head = observations
            .iter()
            .copied()
            .find(|o| !o.item.relations.members.is_empty())
            .or_else(|| observations.first().copied());
        return head
            .map(|head| vec![result_entry(head, None, &observations, outcome, reason)])
            .unwrap_or_default();
    }
    let mut by_report: HashMap<&str, Vec<&DecidedItem>> = HashMap::new();
    for observation in &observations {
        let report = reports
            .iter()
            .find(|r| belongs_to_report(observation, r))
            .unwrap_or(&reports[0]);
        by_report
            .entry(report.item.public_id.as_str())
            .or_default()
            .push(observation);
    }
    reports
        .iter()
        .map(|report| {
            let own = by_report
                .remove(report.item.public_id.as_str())
                .unwrap_or_default();
            result_entry(report, Some(report), &own, outcome, reason)
        })
        .collect()
}

/// Whether a report names this observation (or storage linked them in one delivery).
fn belongs_to_report(observation: &DecidedItem, report: &DecidedItem) -> bool {
    observation.item.parent_public_id.as_deref() == Some(report.item.public_id.as_str())
        || report
            .item
            .relations
            .members
            .iter()
            .any(|key| observation.item.relations.known_as.contains(key))
}

fn result_entry(
    head: &DecidedItem,
    report: Option<&DecidedItem>,
    observations: &[&DecidedItem],
    outcome: Outcome,
    reason: &Reason,
) -> ResultEntry {
    let item = &head.item;
    let public_id = item.public_id.clone();
    let title = item.title.clone();
    let provenance = provenance_of(item);
    match waiting_state(outcome, reason) {
        Some(Waiting::Until(opens_at)) => ResultEntry::Withheld {
            public_id,
            title,
            opens_at,
            provenance,
        },
        Some(Waiting::InProgress) => ResultEntry::InProgress {
            public_id,
            title,
            provenance,
        },
        Some(Waiting::Held) => ResultEntry::HeldForClinician {
            public_id,
            title,
            provenance,
        },
        None => ResultEntry::Available {
            public_id,
            title,
            category: item.category.clone(),
            occurred_at: item.occurred_at,
            occurred_text: item.occurred_text.clone(),
            report: report.map(|r| r.item.details.clone()),
            observations: observations
                .iter()
                .map(|o| observation_entry(&o.item))
                .collect(),
            provenance,
        },
    }
}

fn observation_entry(item: &RecordItem) -> ObservationEntry {
    ObservationEntry {
        public_id: item.public_id.clone(),
        title: item.title.clone(),
        code: item.code.clone(),
        abnormal: item.abnormal,
        details: item.details.clone(),
    }
}

/// The history of one test (by code) across every available result, oldest first.
/// Only observations of available results count: a withheld one is not a point.
pub fn result_history(entries: &[ResultEntry], code: &str) -> Option<ResultHistory> {
    let mut points = Vec::new();
    let mut title = None;
    let mut ranges = BTreeSet::new();
    for entry in entries {
        let ResultEntry::Available {
            public_id,
            observations,
            occurred_at,
            provenance,
            ..
        } = entry
        else {
            continue;
        };
        for observation in observations
            .iter()
            .filter(|o| o.code.as_deref() == Some(code))
        {
            let ItemDetails::Observation {
                value,
                reference_range,
                interpretation,
                ..
            } = &observation.details
            else {
                continue;
            };
            let Some(at) = *occurred_at else { continue };
            title.get_or_insert_with(|| observation.title.clone());
            let (value_text, number, unit) = match value {
                Some(ObservedValue::Quantity {
                    value,
                    comparator,
                    unit,
                }) => (
                    format!("{}{value}", comparator.as_deref().unwrap_or("")),
                    // A value with a comparator ("<5") is not a point on a line.
                    comparator
                        .is_none()
                        .then(|| value.parse::<f64>().ok())
                        .flatten(),
                    unit.clone(),
                ),
                Some(ObservedValue::Text { text }) => (text.clone(), None, None),
                Some(ObservedValue::Coded { coding }) => (
                    coding
                        .display
                        .clone()
                        .or(coding.code.clone())
                        .unwrap_or_default(),
                    None,
                    None,
                ),
                Some(ObservedValue::Absent { reason }) => (reason.clone(), None, None),
                None => (String::new(), None, None),
            };
            let range = reference_range.as_ref().map(|r| {
                (
                    r.low.as_deref().and_then(|v| v.parse::<f64>().ok()),
                    r.high.as_deref().and_then(|v| v.parse::<f64>().ok()),
                )
            });
            let range_text = reference_range.as_ref().map(|r| match (&r.low, &r.high) {
                (Some(low), Some(high)) => format!("{low} to {high}"),
                (Some(low), None) => format!("above {low}"),
                (None, Some(high)) => format!("below {high}"),
                (None, None) => r.text.clone().unwrap_or_default(),
            });
            ranges.insert(
                range
                    .map(|(l, h)| (l.map(f64::to_bits), h.map(f64::to_bits)))
                    .unwrap_or((None, None)),
            );
            points.push(HistoryPoint {
                at,
                value_text,
                value: number,
                unit,
                abnormal: observation.abnormal,
                flag: interpretation.clone(),
                range_text,
                source_name: provenance.source_name.clone(),
                result_public_id: public_id.clone(),
            });
        }
    }
    let title = title?;
    points.sort_by_key(|p| p.at);
    let unit = points.iter().find_map(|p| p.unit.clone());
    // One shaded range only when every point was judged against the same one.
    let (range_low, range_high) = match ranges.into_iter().collect::<Vec<_>>().as_slice() {
        [(low, high)] => (low.map(f64::from_bits), high.map(f64::from_bits)),
        _ => (None, None),
    };
    Some(ResultHistory {
        code: code.to_owned(),
        title,
        unit,
        range_low,
        range_high,
        points,
    })
}

/// The filter as it can be applied: dates parsed, values checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFilter {
    pub kind: Option<String>,
    pub source: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl ParsedFilter {
    /// Whether an item on this date from this source passes the source and date parts.
    pub fn admits(&self, source_ods: &str, at: Option<DateTime<Utc>>) -> bool {
        let source_ok = self.source.as_deref().is_none_or(|s| s == source_ods);
        let day = at.map(|at| at.date_naive());
        let from_ok = self.from.is_none_or(|from| day.is_some_and(|d| d >= from));
        let to_ok = self.to.is_none_or(|to| day.is_some_and(|d| d <= to));
        source_ok && from_ok && to_ok
    }
}

/// Checks a filter as typed. Fields that cannot be used are reported (and ignored),
/// the rest still apply: a typing mistake never empties the page or loses the input.
pub fn parse_filter(
    filter: &RecordFilter,
    kinds: &[&str],
    sources: &[SourceFreshness],
) -> (ParsedFilter, Vec<FilterProblem>) {
    let mut problems = Vec::new();
    let mut parsed = ParsedFilter::default();
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    if let Some(kind) = present(&filter.kind) {
        if kinds.contains(&kind.as_str()) {
            parsed.kind = Some(kind);
        } else {
            problems.push(FilterProblem {
                field: "kind".to_owned(),
                message: "Select a type from the list".to_owned(),
            });
        }
    }
    if let Some(source) = present(&filter.source) {
        if sources.iter().any(|s| s.ods_code == source) {
            parsed.source = Some(source);
        } else {
            problems.push(FilterProblem {
                field: "source".to_owned(),
                message: "Select an organisation from the list".to_owned(),
            });
        }
    }
    for (field, value, slot) in [
        ("from", present(&filter.from), &mut parsed.from),
        ("to", present(&filter.to), &mut parsed.to),
    ] {
        if let Some(value) = value {
            match parse_date(&value) {
                Some(date) => *slot = Some(date),
                None => problems.push(FilterProblem {
                    field: field.to_owned(),
                    message: format!(
                        "Enter the {} date as day, month and year, for example 14/3/2026",
                        if field == "from" { "start" } else { "end" }
                    ),
                }),
            }
        }
    }
    if let (Some(from), Some(to)) = (parsed.from, parsed.to)
        && from > to
    {
        problems.push(FilterProblem {
            field: "to".to_owned(),
            message: "The end date must be the same as or after the start date".to_owned(),
        });
        parsed.to = None;
    }
    (parsed, problems)
}

/// A date as people in the UK type it ("14/3/2026", "14 3 2026", "14-03-2026"), or as
/// a browser's date field sends it ("2026-03-14").
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date);
    }
    let parts: Vec<&str> = text
        .split(['/', ' ', '-', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    let year: i32 = year.parse().ok()?;
    if !(1900..=2200).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month.parse().ok()?, day.parse().ok()?)
}

/// The sources of what the record pages show this reader, with each one's freshness. A
/// source none of whose items any page shows (hidden from this reader, an appointment
/// its sender holds back, or a kind no page lists) is not named.
pub fn sources_of(record: &DecidedRecord, organisations: &[Organisation]) -> Vec<SourceFreshness> {
    let present: BTreeSet<_> = record
        .items()
        .iter()
        .filter(|d| match d.item.kind {
            RecordKind::Appointment => d.is_shown(),
            RecordKind::Document | RecordKind::DiagnosticReport | RecordKind::Observation => true,
            RecordKind::Encounter => false,
        })
        .map(|d| d.item.source)
        .collect();
    organisations
        .iter()
        .filter(|o| present.contains(&o.id))
        .map(|o| SourceFreshness {
            name: o.name.clone(),
            ods_code: o.ods_code.as_str().to_owned(),
            kind: o.kind,
            up_to_date_as_of: o.last_received_at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_are_read_as_people_type_them() {
        let march = NaiveDate::from_ymd_opt(2026, 3, 14);
        for typed in [
            "14/3/2026",
            "14/03/2026",
            "14 3 2026",
            "14-03-2026",
            "2026-03-14",
        ] {
            assert_eq!(parse_date(typed), march, "{typed}");
        }
        for wrong in ["31/2/2026", "14/3/26", "last week", "2026-13-01", ""] {
            assert_eq!(parse_date(wrong), None, "{wrong}");
        }
    }
}
