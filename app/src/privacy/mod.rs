//! Privacy labels (domain rules, "Sensitive information"): shared records leave out
//! sexual health, HIV status, termination of pregnancy, fertility treatment, gender
//! reassignment, domestic abuse, safeguarding and criminal records. Every incoming item
//! is labelled at ingest from a configurable code list, and from the security labels its
//! sender supplies; items carrying an excluded label are stored but never shown, with no
//! marker that anything was left out.

use serde::{Deserialize, Serialize};

/// The labels the portal itself assigns.
pub const SEXUAL_HEALTH: &str = "sexual-health";
pub const HIV: &str = "hiv";
pub const TERMINATION: &str = "termination";
pub const FERTILITY: &str = "fertility";
pub const GENDER_IDENTITY: &str = "gender-identity";
pub const SAFEGUARDING: &str = "safeguarding";
pub const DOMESTIC_ABUSE: &str = "domestic-abuse";
pub const CRIMINAL: &str = "criminal";

/// Labels whose items the portal never shows.
pub const EXCLUDED: [&str; 8] = [
    SEXUAL_HEALTH,
    HIV,
    TERMINATION,
    FERTILITY,
    GENDER_IDENTITY,
    SAFEGUARDING,
    DOMESTIC_ABUSE,
    CRIMINAL,
];

/// The excluded labels as owned strings, for storage queries.
pub fn excluded_labels() -> Vec<String> {
    EXCLUDED.iter().map(|l| (*l).to_owned()).collect()
}

/// One line of the code list: a code (in a system) that puts a label on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeListEntry {
    pub system: String,
    pub code: String,
    pub label: String,
}

/// The configurable code list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CodeList {
    pub entries: Vec<CodeListEntry>,
}

pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
/// HL7 v3 ActCode: the sensitivity codes senders put in `meta.security`.
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

impl CodeList {
    /// A starting list of well-known codes. Trusts extend it with their own local codes
    /// (`PORTAL_PRIVACY_CODES`, a TOML file of `[[entries]]`).
    pub fn default_list() -> Self {
        let entry = |system: &str, code: &str, label: &str| CodeListEntry {
            system: system.into(),
            code: code.into(),
            label: label.into(),
        };
        Self {
            entries: vec![
                // HIV: the infection and the common antibody and viral load tests.
                entry(SNOMED, "86406008", HIV),
                entry(LOINC, "7917-8", HIV),
                entry(LOINC, "31201-7", HIV),
                entry(LOINC, "56888-1", HIV),
                entry(LOINC, "25836-8", HIV),
                // Sexually transmitted infections and their tests.
                entry(SNOMED, "8098009", SEXUAL_HEALTH),
                entry(LOINC, "21613-5", SEXUAL_HEALTH),
                entry(LOINC, "24111-7", SEXUAL_HEALTH),
                entry(LOINC, "20507-0", SEXUAL_HEALTH),
                // Termination of pregnancy.
                entry(SNOMED, "386639001", TERMINATION),
                // Fertility treatment (in vitro fertilisation).
                entry(SNOMED, "52637005", FERTILITY),
                // Gender reassignment.
                entry(SNOMED, "407374003", GENDER_IDENTITY),
            ],
        }
    }

    /// The labels the code list gives an item with these codings.
    pub fn labels_for<'a>(
        &self,
        codings: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
    ) -> Vec<String> {
        let mut labels: Vec<String> = codings
            .into_iter()
            .flat_map(|(system, code)| {
                self.entries
                    .iter()
                    .filter(move |e| e.code == code && system.is_none_or(|s| s == e.system))
                    .map(|e| e.label.clone())
            })
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }
}

/// The portal label a sender's `meta.security` code stands for, where there is one
/// (HL7 v3 ActCode sensitivity codes).
pub fn label_for_security_code(code: &str) -> Option<&'static str> {
    match code {
        "HIV" => Some(HIV),
        "SEX" | "STD" => Some(SEXUAL_HEALTH),
        // Sexual assault, abuse or domestic violence information.
        "SDV" => Some(DOMESTIC_ABUSE),
        _ => None,
    }
}

/// Whether an item with these labels may be shown in the portal at all.
pub fn is_shown(labels: &[String]) -> bool {
    !labels.iter().any(|l| EXCLUDED.contains(&l.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_on_the_list_label_an_item_and_others_do_not() {
        let list = CodeList::default_list();
        assert_eq!(list.labels_for([(Some(LOINC), "7917-8")]), [HIV]);
        assert_eq!(
            list.labels_for([(Some(SNOMED), "7917-8")]),
            Vec::<String>::new(),
            "the system must match"
        );
        assert_eq!(
            list.labels_for([(None, "386639001")]),
            [TERMINATION],
            "no system: the code alone"
        );
        assert!(
            list.labels_for([(Some(LOINC), "718-7")]).is_empty(),
            "haemoglobin is not sensitive"
        );
        assert_eq!(
            list.labels_for([
                (Some(LOINC), "7917-8"),
                (Some(SNOMED), "86406008"),
                (Some(LOINC), "21613-5")
            ]),
            [HIV, SEXUAL_HEALTH]
        );
    }

    #[test]
    fn excluded_labels_hide_an_item_and_other_labels_do_not() {
        assert!(is_shown(&[]));
        assert!(is_shown(&["PSY".to_owned()]));
        assert!(!is_shown(&[HIV.to_owned()]));
        assert_eq!(label_for_security_code("HIV"), Some(HIV));
        assert_eq!(label_for_security_code("R"), None);
    }
}
