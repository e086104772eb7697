//! What the record pages receive from the server: each item already decided by the
//! release engine and projected for display. A result that is not yet available is a
//! separate variant that has nowhere to put content (only its test name, its source and
//! when it opens), so withheld content cannot reach the browser by accident.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ItemDetails, OrganisationKind};

/// Where an item came from and when the portal received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub source_name: String,
    pub source_ods_code: String,
    pub received_at: DateTime<Utc>,
}

/// A source of the patient's record and how fresh its feed is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFreshness {
    pub name: String,
    pub ods_code: String,
    pub kind: OrganisationKind,
    /// When the source last delivered anything: "up to date as of".
    pub up_to_date_as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentEntry {
    pub public_id: String,
    pub title: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub upcoming: bool,
    pub cancelled: bool,
    pub details: ItemDetails,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LetterEntry {
    pub public_id: String,
    pub title: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub content: LetterContent,
    pub provenance: Provenance,
}

/// What of a letter may be shown: its content, or only the state it is waiting in (a
/// pathology report sent as a PDF is withheld like the report). Only `Available` has
/// anywhere to put text or attachments.
// A page holds a few dozen of these, serialised once: boxing the large variant would
// buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "availability", rename_all = "snake_case")]
pub enum LetterContent {
    Available { details: ItemDetails },
    Withheld { opens_at: DateTime<Utc> },
    InProgress,
    HeldForClinician,
}

impl LetterEntry {
    /// The letter's content, when it may be shown.
    pub fn details(&self) -> Option<&ItemDetails> {
        match &self.content {
            LetterContent::Available { details } => Some(details),
            _ => None,
        }
    }
}

/// One observation of an available report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationEntry {
    pub public_id: String,
    pub title: String,
    /// The test code, which links to the history of the same test.
    pub code: Option<String>,
    pub abnormal: Option<bool>,
    pub details: ItemDetails,
}

/// A result as the lab sent it (a report and its observations, or one observation),
/// decided by the release engine.
// A page holds a few dozen of these, serialised once: boxing the large variant would
// buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "availability", rename_all = "snake_case")]
pub enum ResultEntry {
    Available {
        public_id: String,
        title: String,
        category: Option<String>,
        occurred_at: Option<DateTime<Utc>>,
        occurred_text: Option<String>,
        /// The report itself (`None` for an observation sent without a report).
        report: Option<ItemDetails>,
        observations: Vec<ObservationEntry>,
        provenance: Provenance,
    },
    /// Received, opens on `opens_at`: only that it exists, its name and the date.
    Withheld {
        public_id: String,
        title: String,
        opens_at: DateTime<Utc>,
        provenance: Provenance,
    },
    /// Received, to be released by the clinical team.
    HeldForClinician {
        public_id: String,
        title: String,
        provenance: Provenance,
    },
    /// Received but not final yet (preliminary, registered, partial): only that it is
    /// in progress, never its values.
    InProgress {
        public_id: String,
        title: String,
        provenance: Provenance,
    },
}

impl ResultEntry {
    pub fn public_id(&self) -> &str {
        match self {
            ResultEntry::Available { public_id, .. }
            | ResultEntry::Withheld { public_id, .. }
            | ResultEntry::HeldForClinician { public_id, .. }
            | ResultEntry::InProgress { public_id, .. } => public_id,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            ResultEntry::Available { title, .. }
            | ResultEntry::Withheld { title, .. }
            | ResultEntry::HeldForClinician { title, .. }
            | ResultEntry::InProgress { title, .. } => title,
        }
    }

    pub fn provenance(&self) -> &Provenance {
        match self {
            ResultEntry::Available { provenance, .. }
            | ResultEntry::Withheld { provenance, .. }
            | ResultEntry::HeldForClinician { provenance, .. }
            | ResultEntry::InProgress { provenance, .. } => provenance,
        }
    }

    pub fn is_available(&self) -> bool {
        matches!(self, ResultEntry::Available { .. })
    }
}

/// The kinds of result a patient can filter by, from the report's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// Blood and other laboratory tests.
    Lab,
    /// Scans and X-rays.
    Imaging,
    /// Tissue samples (histopathology, cytology) and genetics.
    Pathology,
    Other,
}

impl ResultType {
    pub const ALL: [ResultType; 4] = [
        ResultType::Lab,
        ResultType::Imaging,
        ResultType::Pathology,
        ResultType::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ResultType::Lab => "lab",
            ResultType::Imaging => "imaging",
            ResultType::Pathology => "pathology",
            ResultType::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResultType::Lab => "Blood and lab tests",
            ResultType::Imaging => "Scans and X-rays",
            ResultType::Pathology => "Tissue and genetic tests",
            ResultType::Other => "Other tests",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The type of a report category as sources send it (v2 section or FHIR category).
    pub fn of_category(category: Option<&str>) -> Self {
        let Some(category) = category else {
            return ResultType::Other;
        };
        let section = crate::release::normalise_category(category);
        if crate::release::IMAGING_SECTIONS.contains(&section.as_str()) {
            ResultType::Imaging
        } else if matches!(
            section.as_str(),
            "LAB" | "HM" | "CH" | "MB" | "SR" | "BLB" | "HLA"
        ) {
            ResultType::Lab
        } else if matches!(section.as_str(), "SP" | "PAT" | "CP" | "GE" | "CG") {
            ResultType::Pathology
        } else {
            ResultType::Other
        }
    }
}

/// One point of a test's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub at: DateTime<Utc>,
    /// The value as the lab wrote it, with any comparator ("<5").
    pub value_text: String,
    /// The value as a number for the chart, when it is one.
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub abnormal: Option<bool>,
    pub flag: Option<String>,
    pub range_text: Option<String>,
    pub source_name: String,
    /// The result the point belongs to, for a link.
    pub result_public_id: String,
}

/// A repeated test across every source, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultHistory {
    pub code: String,
    pub title: String,
    pub unit: Option<String>,
    /// The usual range, when every point agrees on it.
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub points: Vec<HistoryPoint>,
}

/// The filters of a record list, as the patient typed them (kept as typed so that a
/// mistake can be shown next to the field without losing anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordFilter {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

impl RecordFilter {
    pub fn is_empty(&self) -> bool {
        [&self.kind, &self.source, &self.from, &self.to]
            .iter()
            .all(|v| v.as_deref().is_none_or(|v| v.trim().is_empty()))
    }
}

/// A filter value that could not be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterProblem {
    /// The form field's name (`from`, `to`, `kind`, `source`).
    pub field: String,
    pub message: String,
}

/// A list page's data: the entries that pass the filter, the filter's problems, and the
/// sources the patient can filter by (with their freshness).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordList<T> {
    pub entries: Vec<T>,
    /// The reader acts for the patient under a grant that does not open this section:
    /// the page says so rather than look empty.
    pub outside_grant: bool,
    pub filter: RecordFilter,
    pub problems: Vec<FilterProblem>,
    pub sources: Vec<SourceFreshness>,
}

/// Something that arrived since the patient's last visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    /// "Letter", "Test result", "Appointment".
    pub kind_label: String,
    pub title: String,
    pub href: String,
    pub provenance: Provenance,
}

/// Whose record a proxy is reading, and what their grant opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActingFor {
    pub name: String,
    pub sections: Vec<String>,
}

/// The signed-in home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeSummary {
    pub given_name: Option<String>,
    /// When someone is acting for the patient: the patient's name and the parts of the
    /// record their grant opens.
    pub acting_for: Option<ActingFor>,
    pub next_appointments: Vec<AppointmentEntry>,
    /// The previous visit, when there was one.
    pub last_visit: Option<DateTime<Utc>>,
    pub new_items: Vec<NewItem>,
    /// Results received but not yet available.
    pub awaiting: Vec<ResultEntry>,
    pub sources: Vec<SourceFreshness>,
}
