//! Recognising what kind of result a sender means, whichever code system it uses
//! (domain rules, "Release delays": the rule table is keyed on HL7 v2 diagnostic service
//! sections). Senders say "radiology" in at least three ways: the v2-0074 section
//! (`RAD`, `CT`), a LOINC part (`LP29684-5` Radiology) or a SNOMED CT procedure or
//! record-artifact code (`363679005` Imaging). Each is mapped here onto the v2 section
//! the rules name. A category that none of these recognise maps to nothing, and the
//! release engine then holds the result for the clinical team: an unrecognised result
//! is never opened early because nobody knew what it was.

/// HL7 v2 table 0074, diagnostic service section id, as FHIR names it.
pub const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
/// The same table under the address FHIR DSTU2 used, still seen in feeds.
const V2_0074_OLD: &str = "http://hl7.org/fhir/v2/0074";
/// FHIR's own observation categories (`laboratory`, `imaging`, `vital-signs`…).
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";

/// Every v2-0074 section, plus `PAT` (pathology), which UK trusts use for the same idea,
/// and `IMG`, the portal's name for FHIR's "imaging" observation category.
const SECTIONS: [&str; 43] = [
    "AU", "BG", "BLB", "CG", "CUS", "CTH", "CT", "CH", "CP", "EC", "EN", "GE", "HM", "ICU", "IMM",
    "LAB", "MB", "MCB", "MYC", "NMS", "NMR", "NRS", "OUS", "OT", "OTH", "OSL", "PHR", "PHY", "PF",
    "PT", "RAD", "RX", "RUS", "RC", "RT", "SR", "SP", "TX", "VUS", "VR", "XRC", "PAT", "IMG",
];

/// Whether a code is a diagnostic service section the rule table may name.
pub fn is_section(code: &str) -> bool {
    SECTIONS.contains(&code)
}

/// LOINC codes that say what kind of result or document something is: the parts US
/// Core and others use as DiagnosticReport categories, and the document type codes that
/// name a report of one kind (a pathology study sent as a PDF is a pathology result).
const LOINC_SECTIONS: [(&str, &str); 9] = [
    ("LP29684-5", "RAD"), // Radiology (part)
    ("LP7839-6", "PAT"),  // Pathology (part)
    ("18748-4", "RAD"),   // Diagnostic imaging study
    ("68604-8", "RAD"),   // Radiology diagnostic study note
    ("11526-1", "PAT"),   // Pathology study
    ("60567-5", "PAT"),   // Comprehensive pathology report panel
    ("60568-3", "SP"),    // Pathology synoptic report
    ("11502-2", "LAB"),   // Laboratory report
    ("51969-4", "GE"),    // Genetic analysis report
];

/// SNOMED CT procedures, qualifiers and record artifacts that say what kind of result
/// or report something is.
const SNOMED_SECTIONS: [(&str, &str); 18] = [
    ("363679005", "IMG"),     // Imaging (procedure)
    ("4201000179104", "IMG"), // Imaging report (record artifact)
    ("394914008", "RAD"),     // Radiology (qualifier value)
    ("168537006", "RAD"),     // Plain radiography (procedure)
    ("363680008", "RAD"),     // Radiographic imaging procedure
    ("77477000", "CT"),       // Computerized axial tomography (procedure)
    ("113091000", "NMR"),     // Magnetic resonance imaging (procedure)
    ("16310003", "RUS"),      // Ultrasonography (procedure)
    ("371572003", "NMS"),     // Nuclear medicine imaging procedure
    ("108252007", "LAB"),     // Laboratory procedure
    ("15220000", "LAB"),      // Laboratory test (procedure)
    ("4241000179101", "LAB"), // Laboratory report (record artifact)
    ("394595002", "PAT"),     // Pathology (qualifier value)
    ("371528001", "PAT"),     // Pathology report (record artifact)
    ("108257001", "PAT"),     // Anatomic pathology procedure
    ("394597005", "SP"),      // Histopathology (qualifier value)
    ("252416005", "SP"),      // Histopathology test (procedure)
    ("405824009", "GE"),      // Genetic test (procedure)
];

/// The v2 section one coding stands for, if it is recognised. A coding without a system
/// is read as a bare section code or FHIR observation category (older feeds send them so).
pub fn section_of(system: Option<&str>, code: &str) -> Option<&'static str> {
    let code = code.trim();
    let section = |code: &str| SECTIONS.iter().find(|s| **s == code).copied();
    match system {
        Some(V2_0074 | V2_0074_OLD) => section(&code.to_ascii_uppercase()),
        Some(OBSERVATION_CATEGORY) => observation_category(code),
        Some(LOINC) => LOINC_SECTIONS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, s)| *s),
        Some(SNOMED) => SNOMED_SECTIONS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, s)| *s),
        Some(_) => None,
        None => observation_category(code).or_else(|| section(&code.to_ascii_uppercase())),
    }
}

/// FHIR's observation categories that name a results section.
fn observation_category(code: &str) -> Option<&'static str> {
    match code {
        "laboratory" => Some("LAB"),
        "imaging" => Some("IMG"),
        _ => None,
    }
}

/// The section of the first coding that is recognised, in the order the sender gave
/// them. A recognised section is preferred over the sender's first unrecognised one.
pub fn recognise<'a>(
    codings: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Option<&'static str> {
    codings
        .into_iter()
        .find_map(|(system, code)| section_of(system, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radiology_is_recognised_in_every_code_system_senders_use() {
        assert_eq!(section_of(Some(V2_0074), "RAD"), Some("RAD"));
        assert_eq!(section_of(Some(V2_0074), "ct"), Some("CT"));
        assert_eq!(section_of(Some(LOINC), "LP29684-5"), Some("RAD"));
        assert_eq!(section_of(Some(SNOMED), "77477000"), Some("CT"));
        assert_eq!(section_of(Some(SNOMED), "363679005"), Some("IMG"));
        assert_eq!(
            section_of(Some(OBSERVATION_CATEGORY), "imaging"),
            Some("IMG")
        );
    }

    #[test]
    fn pathology_is_recognised_from_loinc_and_snomed() {
        assert_eq!(section_of(Some(LOINC), "LP7839-6"), Some("PAT"));
        assert_eq!(section_of(Some(LOINC), "11526-1"), Some("PAT"));
        assert_eq!(section_of(Some(SNOMED), "394597005"), Some("SP"));
        assert_eq!(section_of(Some(V2_0074), "SP"), Some("SP"));
    }

    #[test]
    fn unknown_codes_and_systems_are_not_guessed() {
        assert_eq!(section_of(Some(V2_0074), "XYZ"), None);
        assert_eq!(section_of(Some("http://example.org/local"), "RAD"), None);
        assert_eq!(section_of(Some(OBSERVATION_CATEGORY), "vital-signs"), None);
        assert_eq!(section_of(Some(LOINC), "718-7"), None);
        assert_eq!(
            recognise([(Some("urn:local"), "X"), (Some(LOINC), "LP29684-5")]),
            Some("RAD")
        );
        assert_eq!(recognise([]), None);
    }
}
