//! What a patient's record is made of: the kinds of item sources send, the organisations
//! they come from, and the display projection of each item that pages render. These are
//! plain data shared by server and browser; how items are stored lives in
//! `server::storage`, and how they arrive in the server crate's `ingest`.

use serde::{Deserialize, Serialize};

pub mod api;
pub mod item;
pub mod pages;
pub mod view;

pub use item::{RecordItem, Relations};

/// The kinds of record item the portal shows. One FHIR resource becomes one item; a
/// diagnostic report's observations are items of their own, linked to the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Appointment,
    Document,
    DiagnosticReport,
    Observation,
    Encounter,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Appointment,
        RecordKind::Document,
        RecordKind::DiagnosticReport,
        RecordKind::Observation,
        RecordKind::Encounter,
    ];

    /// The stable code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Appointment => "appointment",
            RecordKind::Document => "document",
            RecordKind::DiagnosticReport => "diagnostic_report",
            RecordKind::Observation => "observation",
            RecordKind::Encounter => "encounter",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The kind of organisation a source is. It changes nothing in the rules; patients find
/// it useful to know whether a letter came from their GP or from a hospital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    HospitalTrust,
    GpPractice,
    CommunityService,
}

impl OrganisationKind {
    pub const ALL: [OrganisationKind; 3] = [
        OrganisationKind::HospitalTrust,
        OrganisationKind::GpPractice,
        OrganisationKind::CommunityService,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrganisationKind::HospitalTrust => "hospital_trust",
            OrganisationKind::GpPractice => "gp_practice",
            OrganisationKind::CommunityService => "community_service",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// What a sender says about when a result may be released, on top of the rule table
/// (domain rules, "Release delays").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseDirective {
    /// No instruction: the rule table decides.
    #[default]
    None,
    /// A clinician has released it early.
    ReleaseNow,
    /// Withheld until further notice.
    Hold,
    /// Withdrawn by the sender.
    Retract,
}

impl ReleaseDirective {
    pub const ALL: [ReleaseDirective; 4] = [
        ReleaseDirective::None,
        ReleaseDirective::ReleaseNow,
        ReleaseDirective::Hold,
        ReleaseDirective::Retract,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReleaseDirective::None => "none",
            ReleaseDirective::ReleaseNow => "release_now",
            ReleaseDirective::Hold => "hold",
            ReleaseDirective::Retract => "retract",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A coded concept as sources send it (SNOMED CT, LOINC, local codes), with the text to
/// show people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

/// How an appointment is delivered (the UK Core delivery channel extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryChannel {
    InPerson,
    Telephone,
    Video,
}

/// The part of each item that pages show, projected from the FHIR resource when it
/// arrives so that reading a record never re-parses raw FHIR. Values are kept as the
/// sender wrote them (a result of "11.20" stays "11.20").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemDetails {
    Appointment {
        status: String,
        start: Option<String>,
        end: Option<String>,
        description: Option<String>,
        specialty: Option<String>,
        appointment_type: Option<String>,
        place: Option<String>,
        channel: Option<DeliveryChannel>,
        instructions: Option<String>,
        cancellation_reason: Option<String>,
    },
    Document {
        status: String,
        document_type: Option<String>,
        date: Option<String>,
        description: Option<String>,
        /// Sanitised XHTML narrative sections (discharge summaries sent as compositions).
        sections: Vec<DocumentSection>,
        attachments: Vec<AttachmentSummary>,
    },
    DiagnosticReport {
        status: String,
        category: Option<String>,
        code: Coding,
        effective: Option<String>,
        issued: Option<String>,
        conclusion: Option<String>,
        /// Plain-text report body (radiology reports are usually just this).
        text: Option<String>,
    },
    Observation {
        status: String,
        code: Coding,
        effective: Option<String>,
        value: Option<ObservedValue>,
        reference_range: Option<ReferenceRange>,
        interpretation: Option<String>,
        note: Option<String>,
    },
    Encounter {
        status: String,
        class: Option<String>,
        encounter_type: Option<String>,
        start: Option<String>,
        end: Option<String>,
        location: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSection {
    pub title: Option<String>,
    pub narrative_xhtml: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSummary {
    pub title: Option<String>,
    pub content_type: String,
    pub size: Option<u64>,
    /// Content address (SHA-256, hex) of the stored bytes.
    pub sha256: Option<String>,
}

/// An observation's value, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObservedValue {
    Quantity {
        /// The decimal exactly as the laboratory wrote it.
        value: String,
        comparator: Option<String>,
        unit: Option<String>,
    },
    Text {
        text: String,
    },
    Coded {
        coding: Coding,
    },
    Absent {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRange {
    pub low: Option<String>,
    pub high: Option<String>,
    pub unit: Option<String>,
    pub text: Option<String>,
}
