//! The readable copy: one document model, rendered as HTML here and as PDF on the
//! server (`super::pdf`), so that both always say the same. Besides the items, it gives
//! what UK GDPR article 15 requires a copy to come with: the purposes, the recipients,
//! how long it is kept, where each item came from, the requester's rights, and that
//! each source organisation is the controller of its own data (named, with its ODS
//! code). Letters' narratives become plain text: a copy loads nothing from anywhere.

use super::{ExportPurpose, ExportedItem, PreparedFor, RecordExport};
use crate::components::format;
use crate::proxy::rules::Section;
use crate::records::{ItemDetails, ObservedValue, ReferenceRange};

/// One block of the readable copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(String),
    Subheading(String),
    /// A heading within an item (a letter's section).
    Minor(String),
    /// An item's name, with the facts about it below.
    ItemHeading(String),
    Paragraph(String),
    Bullets(Vec<String>),
    /// Label and value pairs.
    Facts(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Document {
    /// All the text, for checks and searches.
    pub fn text(&self) -> String {
        let mut text = self.title.clone();
        for block in &self.blocks {
            text.push('\n');
            match block {
                Block::Heading(t)
                | Block::Subheading(t)
                | Block::Minor(t)
                | Block::ItemHeading(t)
                | Block::Paragraph(t) => text.push_str(t),
                Block::Bullets(lines) => text.push_str(&lines.join("\n")),
                Block::Facts(facts) => text.push_str(
                    &facts
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            }
        }
        text
    }
}

fn fact(label: &str, value: impl Into<String>) -> (String, String) {
    (label.to_owned(), value.into())
}

fn value_text(value: &Option<ObservedValue>) -> String {
    match value {
        Some(ObservedValue::Quantity {
            value,
            comparator,
            unit,
        }) => format!(
            "{}{} {}",
            comparator.as_deref().unwrap_or(""),
            value,
            unit.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned(),
        Some(ObservedValue::Text { text }) => text.clone(),
        Some(ObservedValue::Coded { coding }) => coding
            .display
            .clone()
            .or(coding.code.clone())
            .unwrap_or_default(),
        Some(ObservedValue::Absent { reason }) => format!("No result ({reason})"),
        None => "No value".to_owned(),
    }
}

fn range_text(range: &ReferenceRange) -> Option<String> {
    let unit = range.unit.as_deref().unwrap_or("");
    let text = match (&range.low, &range.high, &range.text) {
        (Some(low), Some(high), _) => format!("{low} to {high} {unit}"),
        (Some(low), None, _) => format!("above {low} {unit}"),
        (None, Some(high), _) => format!("below {high} {unit}"),
        (None, None, Some(text)) => text.clone(),
        (None, None, None) => return None,
    };
    Some(text.trim().to_owned())
}

/// Plain text from a sanitised XHTML narrative: tags dropped (block ends become line
/// breaks), the common entities decoded, blank runs collapsed.
pub fn narrative_text(xhtml: &str) -> String {
    let mut out = String::new();
    let mut tag = String::new();
    let mut in_tag = false;
    for c in xhtml.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if matches!(
                    name.as_str(),
                    "p" | "br" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "table"
                ) {
                    out.push('\n');
                } else if matches!(name.as_str(), "td" | "th") {
                    out.push(' ');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn item_blocks(item: &ExportedItem) -> Vec<Block> {
    let mut facts = Vec::new();
    if let Some(at) = item.occurred_at {
        facts.push(fact("Date", format::date_and_time(at)));
    }
    facts.push(fact(
        "From",
        format!("{} (ODS code {})", item.source_name, item.source_ods_code),
    ));
    facts.push(fact("Received", format::date_and_time(item.received_at)));
    let mut paragraphs = Vec::new();
    match &item.details {
        ItemDetails::Appointment {
            status,
            description,
            specialty,
            place,
            instructions,
            cancellation_reason,
            ..
        } => {
            facts.push(fact("Status", status.clone()));
            for (label, value) in [
                ("Service", specialty),
                ("Where", place),
                ("Details", description),
                ("Instructions", instructions),
                ("Reason for cancelling", cancellation_reason),
            ] {
                if let Some(value) = value {
                    facts.push(fact(label, value.clone()));
                }
            }
        }
        ItemDetails::Encounter {
            status,
            encounter_type,
            location,
            ..
        } => {
            facts.push(fact("Status", status.clone()));
            if let Some(kind) = encounter_type {
                facts.push(fact("Type", kind.clone()));
            }
            if let Some(location) = location {
                facts.push(fact("Where", location.clone()));
            }
        }
        ItemDetails::Document {
            document_type,
            description,
            sections,
            attachments,
            ..
        } => {
            if let Some(kind) = document_type {
                facts.push(fact("Type", kind.clone()));
            }
            if let Some(description) = description {
                facts.push(fact("Description", description.clone()));
            }
            for section in sections {
                if let Some(title) = &section.title {
                    paragraphs.push(Block::Minor(title.clone()));
                }
                for line in narrative_text(&section.narrative_xhtml).lines() {
                    paragraphs.push(Block::Paragraph(line.to_owned()));
                }
            }
            for attachment in attachments {
                facts.push(fact(
                    "Attached document",
                    format!(
                        "{} ({}; the document itself is in the FHIR copy)",
                        attachment.title.as_deref().unwrap_or("Untitled"),
                        attachment.content_type
                    ),
                ));
            }
        }
        ItemDetails::DiagnosticReport {
            status,
            conclusion,
            text,
            ..
        } => {
            facts.push(fact("Status", status.clone()));
            if let Some(conclusion) = conclusion {
                facts.push(fact("Conclusion", conclusion.clone()));
            }
            if let Some(text) = text {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    paragraphs.push(Block::Paragraph(line.trim().to_owned()));
                }
            }
        }
        ItemDetails::Observation {
            status,
            value,
            reference_range,
            interpretation,
            note,
            ..
        } => {
            facts.push(fact("Result", value_text(value)));
            if let Some(range) = reference_range.as_ref().and_then(range_text) {
                facts.push(fact("Normal range", range));
            }
            if let Some(interpretation) = interpretation {
                facts.push(fact("Interpretation", interpretation.clone()));
            }
            facts.push(fact("Status", status.clone()));
            if let Some(note) = note {
                facts.push(fact("Note", note.clone()));
            }
        }
    }
    let mut blocks = vec![Block::ItemHeading(item.title.clone()), Block::Facts(facts)];
    blocks.extend(paragraphs);
    blocks
}

/// The readable copy of `export`.
pub fn document(export: &RecordExport) -> Document {
    let patient = &export.patient;
    let mut blocks = Vec::new();
    let mut about = vec![
        fact("Name", patient.name()),
        fact("NHS number", patient.nhs_number.clone()),
    ];
    if let Some(birth) = &patient.birth_date {
        about.push(fact("Date of birth", format::partial_date(birth)));
    }
    about.push(fact(
        "Copy made",
        format::date_and_time(export.generated_at),
    ));
    match &export.purpose {
        ExportPurpose::Download => {
            about.push(fact("Why", "Downloaded from the portal"));
        }
        ExportPurpose::SubjectAccess {
            reference,
            received_on,
            ..
        } => {
            about.push(fact(
                "Why",
                format!(
                    "Your request for a copy of your data, received on {}",
                    format::date(
                        received_on
                            .and_hms_opt(12, 0, 0)
                            .unwrap_or_default()
                            .and_utc()
                    )
                ),
            ));
            about.push(fact("Request reference", reference.clone()));
        }
    }
    if let PreparedFor::Proxy { relationship } = &export.prepared_for {
        about.push(fact(
            "Prepared for",
            format!("Someone acting for the patient ({relationship})"),
        ));
    }
    blocks.push(Block::Facts(about));

    blocks.push(Block::Heading("What this copy contains".to_owned()));
    let parts = export
        .scope
        .sections
        .iter()
        .map(|s| s.label().to_lowercase())
        .collect::<Vec<_>>()
        .join(", ");
    let mut range = String::new();
    let day =
        |d: chrono::NaiveDate| format::date(d.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc());
    match (export.scope.from, export.scope.to) {
        (Some(from), Some(to)) => range = format!(", from {} to {}", day(from), day(to)),
        (Some(from), None) => range = format!(", from {}", day(from)),
        (None, Some(to)) => range = format!(", up to {}", day(to)),
        (None, None) => {}
    }
    blocks.push(Block::Paragraph(format!(
        "It holds {} item{} of your record: {parts}{range}. Each is shown as the organisation that sent it wrote it; the FHIR copy holds each exactly as it was received.",
        export.items.len(),
        if export.items.len() == 1 { "" } else { "s" }
    )));
    let not_in = match export.prepared_for {
        PreparedFor::ThePatient => {
            "Test results that have not yet been released to you are not in this copy: they appear in your record once released, and a later copy will hold them."
        }
        PreparedFor::Proxy { .. } => {
            "It holds only what your access to this person's record lets you see. Test results not yet released are not in it."
        }
    };
    blocks.push(Block::Paragraph(not_in.to_owned()));
    if let ExportPurpose::SubjectAccess {
        withheld_grounds, ..
    } = &export.purpose
        && !withheld_grounds.is_empty()
    {
        blocks.push(Block::Paragraph(
            "After a review by a health professional, some information was not included, on these grounds set out in the Data Protection Act 2018:".to_owned(),
        ));
        blocks.push(Block::Bullets(
            withheld_grounds
                .iter()
                .map(|g| g.label().to_owned())
                .collect(),
        ));
        blocks.push(Block::Paragraph(
            "You can ask us to look at this again, and you can complain to the Information Commissioner's Office.".to_owned(),
        ));
    }

    for section in &export.scope.sections {
        let items: Vec<&ExportedItem> = export
            .items
            .iter()
            .filter(|i| Section::of(i.kind) == *section)
            .collect();
        blocks.push(Block::Heading(section.label().to_owned()));
        if items.is_empty() {
            blocks.push(Block::Paragraph("Nothing in this copy.".to_owned()));
        }
        for item in items {
            blocks.extend(item_blocks(item));
        }
    }

    blocks.extend(article_15(export));
    let title = match export.purpose {
        ExportPurpose::Download => "A copy of your health record",
        ExportPurpose::SubjectAccess { .. } => "Your copy of your data (subject access request)",
    };
    Document {
        title: title.to_owned(),
        blocks,
    }
}

/// The information a copy must come with (UK GDPR article 15(1) and (2)).
fn article_15(export: &RecordExport) -> Vec<Block> {
    let mut blocks = vec![
        Block::Heading("About your data".to_owned()),
        Block::Subheading("Who is responsible for it".to_owned()),
        Block::Paragraph(
            "Each organisation that sent information about you is the controller of its own data: it decides how it is used and answers for it. This portal shows it to you on their behalf. The organisations in this copy are:".to_owned(),
        ),
    ];
    let sources = export.sources();
    if sources.is_empty() {
        blocks.push(Block::Paragraph(
            "None: this copy holds no items.".to_owned(),
        ));
    } else {
        blocks.push(Block::Bullets(
            sources
                .iter()
                .map(|(name, ods)| format!("{name} (ODS code {ods})"))
                .collect(),
        ));
    }
    blocks.extend([
        Block::Subheading("Why it is used".to_owned()),
        Block::Paragraph(
            "For your direct care, and so that you, and people you choose, can see it. The lawful basis is the provision of health care (UK GDPR articles 6(1)(e) and 9(2)(h)).".to_owned(),
        ),
        Block::Subheading("Who it is shared with".to_owned()),
        Block::Paragraph(
            "The health and care professionals looking after you; the people you have given access to your record; the portal's service desk when you or someone acting for you asks for help (every look is recorded, and you can see who looked in \"Who has seen your record\"). It is not sold or used for marketing, and no decision about you is made by automated means.".to_owned(),
        ),
        Block::Subheading("Where it came from".to_owned()),
        Block::Paragraph(
            "Each item names the organisation that sent it and when it arrived. Nothing in this copy came from anywhere else.".to_owned(),
        ),
        Block::Subheading("How long it is kept".to_owned()),
        Block::Paragraph(
            "The portal keeps what each organisation sends for as long as that organisation shares your record through it. Each organisation keeps its own records for the periods in the Records Management Code of Practice for Health and Social Care (for example, adult hospital records for 8 years after treatment ends, and GP records for 10 years after death).".to_owned(),
        ),
        Block::Subheading("Your rights".to_owned()),
        Block::Bullets(vec![
            "to have information that is wrong corrected: ask the organisation that sent it".to_owned(),
            "to ask for your data to be erased or its use restricted, and to object to its use, where the law allows".to_owned(),
            "to stop seeing your record in the portal, or to object to an organisation's information being shown here (\"Your choices\")".to_owned(),
            "to complain to the Information Commissioner's Office: ico.org.uk, 0303 123 1113".to_owned(),
        ]),
    ]);
    blocks
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The readable copy as a standalone HTML page: escaped text, one inline style sheet,
/// no script, no image, no link to load.
pub fn html(document: &Document) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    out.push_str(&format!("<title>{}</title>\n", escape(&document.title)));
    out.push_str(
        "<style>body{font-family:Arial,sans-serif;max-width:46em;margin:1em auto;padding:0 1em;\
         line-height:1.5;color:#212b32}h1,h2{color:#005eb8}h3{margin-bottom:.2em}\
         dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:0 0 1em}\
         dt{font-weight:bold}dd{margin:0}</style>\n</head>\n<body>\n<main>\n",
    );
    out.push_str(&format!("<h1>{}</h1>\n", escape(&document.title)));
    for block in &document.blocks {
        match block {
            Block::Heading(t) => out.push_str(&format!("<h2>{}</h2>\n", escape(t))),
            Block::Subheading(t) => out.push_str(&format!("<h3>{}</h3>\n", escape(t))),
            Block::Minor(t) => out.push_str(&format!("<h4>{}</h4>\n", escape(t))),
            Block::ItemHeading(t) => out.push_str(&format!("<h3>{}</h3>\n", escape(t))),
            Block::Paragraph(t) => out.push_str(&format!("<p>{}</p>\n", escape(t))),
            Block::Bullets(lines) => {
                out.push_str("<ul>\n");
                for line in lines {
                    out.push_str(&format!("<li>{}</li>\n", escape(line)));
                }
                out.push_str("</ul>\n");
            }
            Block::Facts(facts) => {
                out.push_str("<dl>\n");
                for (label, value) in facts {
                    out.push_str(&format!(
                        "<dt>{}</dt><dd>{}</dd>\n",
                        escape(label),
                        escape(value)
                    ));
                }
                out.push_str("</dl>\n");
            }
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}
