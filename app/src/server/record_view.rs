//! From stored items to what a patient may see: every record page's data is built here,
//! by pure functions of (items, rule set, now), so that pages, server functions, the
//! home summary and counts all apply the same release decision. Nothing here reads a
//! clock or the database; `record_reader` does that and calls in.
//!
//! Results are decided as the lab sent them: a report and its observations open
//! together (see [`decide_group`]). An observation whose report is not among the
//! items read (withdrawn, entered in error, or not the patient's) is left out rather
//! than shown on its own.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::storage::{Organisation, RecordItem};
use crate::records::view::*;
use crate::records::{ItemDetails, ObservedValue, RecordKind};
use crate::release::{Availability, ItemFacts, RuleSet, decide, decide_group};

/// The release engine's view of a stored item.
pub fn facts_of(item: &RecordItem) -> ItemFacts<'_> {
    ItemFacts {
        kind: item.kind,
        source_ods: item.source_ods_code.as_str(),
        category: item.category.as_deref(),
        code: item.code.as_deref(),
        abnormal: item.abnormal,
        issued_at: item.issued_at,
        effective_at: item.effective_at,
        received_at: item.first_received_at,
        directive: item.release_directive,
    }
}

pub fn provenance_of(item: &RecordItem) -> Provenance {
    Provenance {
        source_name: item.source_name.clone(),
        source_ods_code: item.source_ods_code.as_str().to_owned(),
        received_at: item.first_received_at,
    }
}

/// Appointments and letters are not results, but a sender may still withdraw them.
fn shown(item: &RecordItem, rules: &RuleSet, now: DateTime<Utc>) -> bool {
    decide(&facts_of(item), rules, now).availability != Availability::Withdrawn
}

pub fn appointment_entries(
    items: &[RecordItem],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Vec<AppointmentEntry> {
    items
        .iter()
        .filter(|i| i.kind == RecordKind::Appointment && shown(i, rules, now))
        .map(|item| {
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

pub fn letter_entries(
    items: &[RecordItem],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Vec<LetterEntry> {
    items
        .iter()
        .filter(|i| i.kind == RecordKind::Document && shown(i, rules, now))
        .map(|item| LetterEntry {
            public_id: item.public_id.clone(),
            title: item.title.clone(),
            occurred_at: item.occurred_at,
            details: item.details.clone(),
            provenance: provenance_of(item),
        })
        .collect()
}

/// Every result the patient may know about, newest first: reports with their
/// observations, and observations sent without a report. Withdrawn ones are left out.
pub fn result_entries(
    items: &[RecordItem],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Vec<ResultEntry> {
    let reports: HashMap<&str, &RecordItem> = items
        .iter()
        .filter(|i| i.kind == RecordKind::DiagnosticReport)
        .map(|i| (i.public_id.as_str(), i))
        .collect();
    let mut members: HashMap<&str, Vec<&RecordItem>> = HashMap::new();
    let mut groups: Vec<&RecordItem> = Vec::new();
    for item in items {
        match (item.kind, item.parent_public_id.as_deref()) {
            (RecordKind::DiagnosticReport, _) => groups.push(item),
            (RecordKind::Observation, None) => groups.push(item),
            (RecordKind::Observation, Some(parent)) if reports.contains_key(parent) => {
                members.entry(parent).or_default().push(item);
            }
            // An observation whose report was not read: never shown on its own.
            _ => {}
        }
    }
    groups
        .into_iter()
        .filter_map(|head| {
            let children = members.remove(head.public_id.as_str()).unwrap_or_default();
            result_entry(head, &children, rules, now)
        })
        .collect()
}

fn result_entry(
    head: &RecordItem,
    children: &[&RecordItem],
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Option<ResultEntry> {
    let child_facts: Vec<ItemFacts<'_>> = children.iter().map(|c| facts_of(c)).collect();
    let decision = decide_group(&facts_of(head), &child_facts, rules, now);
    let public_id = head.public_id.clone();
    let title = head.title.clone();
    let provenance = provenance_of(head);
    Some(match decision.availability {
        Availability::Withdrawn => return None,
        Availability::WithheldUntil { opens_at } => ResultEntry::Withheld {
            public_id,
            title,
            opens_at,
            provenance,
        },
        Availability::HeldForClinician => ResultEntry::HeldForClinician {
            public_id,
            title,
            provenance,
        },
        Availability::Visible => {
            let (report, observations) = if head.kind == RecordKind::DiagnosticReport {
                let observations = children
                    .iter()
                    .filter(|c| {
                        decide(&facts_of(c), rules, now).availability != Availability::Withdrawn
                    })
                    .map(|c| observation_entry(c))
                    .collect();
                (Some(head.details.clone()), observations)
            } else {
                (None, vec![observation_entry(head)])
            };
            ResultEntry::Available {
                public_id,
                title,
                category: head.category.clone(),
                occurred_at: head.occurred_at,
                occurred_text: head.occurred_text.clone(),
                report,
                observations,
                provenance,
            }
        }
    })
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

/// The sources among the items the patient can see, with each one's freshness.
pub fn sources_of(items: &[RecordItem], organisations: &[Organisation]) -> Vec<SourceFreshness> {
    let present: BTreeSet<_> = items.iter().map(|i| i.source).collect();
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
