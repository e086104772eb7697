//! Synthetic UK laboratory transaction bundles for the examples that drive the feed
//! (the ingest benchmark, the fault checks): a Patient with a valid test-range NHS
//! number, a urea and electrolytes DiagnosticReport and its 5 Observations, all
//! conditional updates by identifier.

/// The sending laboratory: its ODS code is the performer of every report and result.
pub const SENDER_ODS: &str = "RXX";
const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub const REPORT_ID_SYSTEM: &str = "https://lab.rxx.example/Id/report";
pub const RESULT_ID_SYSTEM: &str = "https://lab.rxx.example/Id/result";
pub const OBSERVATIONS_PER_BUNDLE: usize = 5;
/// Patient, report and results.
pub const RESOURCES_PER_BUNDLE: usize = 2 + OBSERVATIONS_PER_BUNDLE;

/// One test of the panel, with the values results take in turn. Values and limits are
/// written as a laboratory system writes them ("4.20", not 4.2).
struct Test {
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: &'static str,
    high: &'static str,
    values: [&'static str; 4],
}

/// A urea and electrolytes panel.
const PANEL: [Test; OBSERVATIONS_PER_BUNDLE] = [
    Test {
        loinc: "2951-2",
        name: "Sodium",
        unit: "mmol/L",
        low: "133",
        high: "146",
        values: ["139", "141", "136", "144"],
    },
    Test {
        loinc: "2823-3",
        name: "Potassium",
        unit: "mmol/L",
        low: "3.5",
        high: "5.3",
        values: ["4.20", "4.6", "3.9", "5.1"],
    },
    Test {
        loinc: "22664-7",
        name: "Urea",
        unit: "mmol/L",
        low: "2.5",
        high: "7.8",
        values: ["5.4", "6.10", "3.8", "7.2"],
    },
    Test {
        loinc: "14682-9",
        name: "Creatinine",
        unit: "umol/L",
        low: "59",
        high: "104",
        values: ["78", "96", "64", "101"],
    },
    Test {
        loinc: "33914-3",
        name: "eGFR (MDRD)",
        unit: "mL/min/{1.73_m2}",
        low: "60",
        high: "120",
        values: ["90", "84", "97", "71"],
    },
];

/// A family name per patient, so that patients differ in more than their number.
const FAMILY_NAMES: [&str; 8] = [
    "Hart", "Iqbal", "Okafor", "Turner", "Nowak", "Evans", "Chen", "Murphy",
];
const GIVEN_NAMES: [&str; 8] = [
    "Amelia", "Mohammed", "Grace", "Oliver", "Zofia", "Rhys", "Mei", "Siobhan",
];

/// Bundle `index`: one patient's urea and electrolytes report with its 5 results, as a
/// transaction of conditional updates by identifier. Written as text, not through
/// serde_json's `Value`, so the decimals arrive exactly as written.
pub fn lab_bundle(index: usize, nhs: &str) -> String {
    let patient_url = format!("urn:uuid:00000000-0000-4000-8000-{index:012}");
    let report_url = format!("urn:uuid:00000001-0000-4000-8000-{index:012}");
    let report_id = format!("U{index:08}");
    let family = FAMILY_NAMES[index % FAMILY_NAMES.len()];
    let given = GIVEN_NAMES[index / FAMILY_NAMES.len() % GIVEN_NAMES.len()];
    let effective = "2026-11-20T09:30:00+00:00";
    let issued = "2026-11-20T14:05:00+00:00";
    let performer =
        format!(r#"[{{"identifier":{{"system":"{ODS_SYSTEM}","value":"{SENDER_ODS}"}}}}]"#);

    let mut entries = Vec::with_capacity(RESOURCES_PER_BUNDLE);
    entries.push(format!(
        r#"{{"fullUrl":"{patient_url}","resource":{{"resourceType":"Patient","identifier":[{{"system":"{NHS_NUMBER_SYSTEM}","value":"{nhs}"}}],"name":[{{"use":"official","family":"{family}","given":["{given}"]}}],"gender":"{gender}","birthDate":"{birth_year}-0{birth_month}-1{birth_day}"}},"request":{{"method":"PUT","url":"Patient?identifier={NHS_NUMBER_SYSTEM}|{nhs}"}}}}"#,
        gender = if index.is_multiple_of(2) { "female" } else { "male" },
        birth_year = 1940 + index % 60,
        birth_month = 1 + index % 9,
        birth_day = index % 10,
    ));

    let mut result_references = Vec::with_capacity(OBSERVATIONS_PER_BUNDLE);
    let mut observations = Vec::with_capacity(OBSERVATIONS_PER_BUNDLE);
    for (position, test) in PANEL.iter().enumerate() {
        let Test {
            loinc,
            name,
            unit,
            low,
            high,
            values,
        } = test;
        let url = format!("urn:uuid:0000001{position}-0000-4000-8000-{index:012}");
        let id = format!("{report_id}-{}", position + 1);
        let value = values[(index + position) % values.len()];
        result_references.push(format!(r#"{{"reference":"{url}"}}"#));
        observations.push(format!(
            r#"{{"fullUrl":"{url}","resource":{{"resourceType":"Observation","identifier":[{{"system":"{RESULT_ID_SYSTEM}","value":"{id}"}}],"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"{loinc}","display":"{name}"}}],"text":"{name}"}},"subject":{{"reference":"{patient_url}"}},"effectiveDateTime":"{effective}","issued":"{issued}","performer":{performer},"valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}},"interpretation":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N","display":"Normal"}}]}}],"referenceRange":[{{"low":{{"value":{low},"unit":"{unit}"}},"high":{{"value":{high},"unit":"{unit}"}}}}]}},"request":{{"method":"PUT","url":"Observation?identifier={RESULT_ID_SYSTEM}|{id}"}}}}"#
        ));
    }
    entries.push(format!(
        r#"{{"fullUrl":"{report_url}","resource":{{"resourceType":"DiagnosticReport","identifier":[{{"system":"{REPORT_ID_SYSTEM}","value":"{report_id}"}}],"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB","display":"Laboratory"}}]}}],"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"444164000","display":"Urea and electrolytes"}}],"text":"Urea and electrolytes"}},"subject":{{"reference":"{patient_url}"}},"effectiveDateTime":"{effective}","issued":"{issued}","performer":{performer},"result":[{results}]}},"request":{{"method":"PUT","url":"DiagnosticReport?identifier={REPORT_ID_SYSTEM}|{report_id}"}}}}"#,
        results = result_references.join(","),
    ));
    entries.extend(observations);
    format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        entries.join(",")
    )
}
