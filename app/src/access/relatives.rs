//! Which items of a record belong together: a report and its results, a panel and its
//! members, a report and the PDF of it. Worked out when the record is read, from the
//! references FHIR gives (`DiagnosticReport.result`, `Observation.hasMember`, `partOf`,
//! `basedOn`, `derivedFrom`, `DocumentReference.context.related`) as stored with each
//! item, so the grouping is the same whatever deliveries the parts arrived in: one
//! transaction, a batch, separate updates, results before their report, one part
//! re-sent alone. Links never cross senders: a sender's keys mean nothing to another.
//!
//! Two items are relatives when one names the other, or when both name the same thing
//! they were made for (the same order): erring towards grouping only ever makes the
//! decision more careful, because a group is decided by its most restrictive member.

// foldhash rather than std's SipHash: a record is read on every page, and these maps are
// rebuilt each time over every key of every item. Its seed is random per process, and a
// map never holds more than one patient's keys, so one sender cannot make it slow for
// others.
use foldhash::{HashMap, HashMapExt};

use crate::domain::OrganisationId;
use crate::records::{RecordItem, RecordKind};

/// The groups of a list of items, index-aligned with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kinship {
    /// For each item, the id of its group (the index of one of its members).
    pub group: Vec<usize>,
    /// For each item, whether it is a result or document that names a report (or order)
    /// not yet received, in a group with no report: it waits until the report arrives.
    /// (A document naming a report may be that report's PDF.)
    pub awaiting_report: Vec<bool>,
}

/// Union-find over item indices.
struct Groups {
    parent: Vec<usize>,
}

impl Groups {
    fn new(size: usize) -> Self {
        Self {
            parent: (0..size).collect(),
        }
    }

    fn root(&mut self, mut item: usize) -> usize {
        while self.parent[item] != item {
            self.parent[item] = self.parent[self.parent[item]];
            item = self.parent[item];
        }
        item
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            // The lower index becomes the root, so group ids do not depend on order of joins.
            let (low, high) = if a < b { (a, b) } else { (b, a) };
            self.parent[high] = low;
        }
    }
}

/// Whether an item of this kind can have relatives at all.
fn takes_part(kind: RecordKind) -> bool {
    matches!(
        kind,
        RecordKind::DiagnosticReport | RecordKind::Observation | RecordKind::Document
    )
}

/// Groups the items (see the module documentation).
pub fn kinship(items: &[RecordItem]) -> Kinship {
    let mut groups = Groups::new(items.len());
    let mut known: HashMap<(OrganisationId, &str), usize> = HashMap::new();
    let mut by_public_id: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        by_public_id.insert(item.public_id.as_str(), index);
        if !takes_part(item.kind) {
            continue;
        }
        for key in &item.relations.known_as {
            match known.get(&(item.source, key.as_str())) {
                Some(&other) => groups.join(index, other),
                None => {
                    known.insert((item.source, key.as_str()), index);
                }
            }
        }
    }
    let mut first_to_name: HashMap<(OrganisationId, &str), usize> = HashMap::new();
    let mut names_unknown = vec![false; items.len()];
    for (index, item) in items.iter().enumerate() {
        if !takes_part(item.kind) {
            continue;
        }
        for key in &item.relations.members {
            if let Some(&member) = known.get(&(item.source, key.as_str())) {
                groups.join(index, member);
            }
        }
        for key in &item.relations.belongs_to {
            let scoped = (item.source, key.as_str());
            if let Some(&whole) = known.get(&scoped) {
                groups.join(index, whole);
            } else {
                names_unknown[index] = true;
            }
            match first_to_name.get(&scoped) {
                Some(&sibling) => groups.join(index, sibling),
                None => {
                    first_to_name.insert(scoped, index);
                }
            }
        }
        // The link storage made when both parts came in one delivery.
        if let Some(parent) = &item.parent_public_id {
            match by_public_id.get(parent.as_str()) {
                Some(&report) => groups.join(index, report),
                None => names_unknown[index] = true,
            }
        }
    }
    let group: Vec<usize> = (0..items.len()).map(|i| groups.root(i)).collect();
    // Indexed by group id, which is the index of one of the group's items.
    let mut has_report = vec![false; items.len()];
    for (index, item) in items.iter().enumerate() {
        has_report[group[index]] |= item.kind == RecordKind::DiagnosticReport;
    }
    let awaiting_report = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            matches!(item.kind, RecordKind::Observation | RecordKind::Document)
                && names_unknown[index]
                && !has_report[group[index]]
        })
        .collect();
    Kinship {
        group,
        awaiting_report,
    }
}
