//! Demonstration data: three made-up organisations (a hospital trust, a GP practice and a
//! community service) and five made-up patients with NHS numbers from the test range
//! (999 000 0000 to 999 999 9999, never issued to anyone).
//!
//! Each organisation's records are built as FHIR R4 transaction bundles, dated relative
//! to "now", and loaded through [`crate::ingest::ingest_bundle`], exactly as a real feed
//! would send them. Nothing is inserted by hand.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Value, json};

use app::privacy::CodeList;
use app::records::OrganisationKind;
use app::server::storage::{NewOrganisation, Organisation, Storage};

use crate::credentials::new_credential;
use crate::ingest::{IngestError, Sender, ingest_bundle};

pub const HOSPITAL_ODS: &str = "RXX";
pub const GP_ODS: &str = "Y09001";
pub const COMMUNITY_ODS: &str = "RYX99";

/// The demo people. Amelia is the adult the NHS login simulator signs in at P9; Oliver is
/// her son (for proxy access); Grace is cared for by her daughter.
pub const AMELIA: &str = "9990000018";
pub const OLIVER: &str = "9990001383";
pub const GRACE: &str = "9990002754";
pub const MOHAMMED: &str = "9990004129";
pub const SOPHIE: &str = "9990005494";
/// The demo proxies: Daniel is Oliver's father; Ngozi holds a health and welfare lasting
/// power of attorney for her mother Grace.
pub const DANIEL: &str = "9990006865";
pub const NGOZI: &str = "9990007128";

const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const CHANNEL_URL: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("storage: {0}")]
    Storage(#[from] app::server::storage::StorageError),
    #[error("ingest: {0}")]
    Ingest(#[from] IngestError),
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub organisations: usize,
    pub items: usize,
}

/// Loads the demo data unless the database already has organisations (so running the
/// demo twice changes nothing). Returns `None` when it skipped. With the NHS login
/// simulator's issuer, the demo proxies' grants are made too (their accounts are the
/// simulator's people, made ahead of their first sign-in).
pub async fn seed_demo(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    simulated_nhs_login: Option<&str>,
) -> Result<Option<DemoSummary>, DemoError> {
    if !storage.list_organisations().await?.is_empty() {
        return Ok(None);
    }
    let hospital = create(
        storage,
        HOSPITAL_ODS,
        "Northgate University Hospitals NHS Foundation Trust",
        OrganisationKind::HospitalTrust,
        now,
    )
    .await?;
    let gp = create(
        storage,
        GP_ODS,
        "Riverside Medical Practice",
        OrganisationKind::GpPractice,
        now,
    )
    .await?;
    let community = create(
        storage,
        COMMUNITY_ODS,
        "Northgate Community Health Services",
        OrganisationKind::CommunityService,
        now,
    )
    .await?;

    let mut items = 0;
    for (organisation, bundle) in [
        (&hospital, hospital_bundle(now)),
        (&gp, gp_bundle(now)),
        (&community, community_bundle(now)),
    ] {
        // Sources deliver a little before "now", as a batch feed would.
        let sender = Sender {
            organisation: organisation.id,
            received_at: now - Duration::minutes(20),
            request_id: None,
        };
        items += ingest_bundle(storage, &sender, &CodeList::default_list(), &bundle)
            .await?
            .len();
    }
    // An appointment the GP practice sent with a mistyped NHS number: held for the
    // service desk, who can match it to Mohammed Iqbal after checking with the practice.
    let sender = Sender {
        organisation: gp.id,
        received_at: now - Duration::minutes(10),
        request_id: None,
    };
    ingest_bundle(
        storage,
        &sender,
        &CodeList::default_list(),
        &held_bundle(now),
    )
    .await?;
    let sender = Sender {
        organisation: community.id,
        received_at: now - Duration::minutes(5),
        request_id: None,
    };
    ingest_bundle(
        storage,
        &sender,
        &CodeList::default_list(),
        &unmatched_bundle(now),
    )
    .await?;
    seed_demo_objection(storage, &gp, now).await?;
    if let Some(issuer) = simulated_nhs_login {
        seed_demo_proxies(storage, issuer, now).await?;
    }
    Ok(Some(DemoSummary {
        organisations: 3,
        items,
    }))
}

/// Mohammed Iqbal asked by letter that his GP practice's records are not shown in the
/// portal: the service desk recorded it for him (his history shows the letter's
/// reference), so his record shows the hospital's records only.
async fn seed_demo_objection(
    storage: &dyn Storage,
    gp: &Organisation,
    now: DateTime<Utc>,
) -> Result<(), DemoError> {
    use app::audit::{ActorKind, NewAuditEvent, action};
    use app::choices::rules::{Channel, Choice, PatientChoices};
    use app::server::storage::{ChoiceBy, ChoiceChange};

    let Some(mohammed) = storage
        .find_patient_by_nhs_number(&parse_number(MOHAMMED)?)
        .await?
    else {
        return Ok(());
    };
    let at = now - Duration::days(3);
    storage
        .record_choice(ChoiceChange {
            patient: mohammed.id,
            choice: Choice::ObjectToSource(gp.id),
            expected: PatientChoices::none(),
            at,
            by: ChoiceBy {
                actor_kind: ActorKind::Staff,
                actor_account: None,
                channel: Channel::Post,
                evidence_reference: Some("DEMO-LTR-0001".to_owned()),
                reason: Some("Letter from the patient (demo)".to_owned()),
            },
            grant_changes: Vec::new(),
            audit: NewAuditEvent {
                patient: Some(mohammed.id),
                target: Some(format!("organisation:{GP_ODS}")),
                reason: Some("channel:post".to_owned()),
                ..NewAuditEvent::new(at, ActorKind::Staff, action::CHOICE_OBJECTED)
            },
        })
        .await?;
    Ok(())
}

/// Daniel Hart's verified parental responsibility for Oliver (everything), and Ngozi
/// Okafor's lasting power of attorney for Grace (appointments and letters only), as the
/// service desk would have granted them.
async fn seed_demo_proxies(
    storage: &dyn Storage,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<(), DemoError> {
    use app::audit::{ActorKind, NewAuditEvent, action};
    use app::proxy::rules::{ProxyBasisKind, Scope};
    use app::server::storage::{AccountRole, GrantDecisionBy, NewGrant, NewSignIn};

    let desk = GrantDecisionBy {
        actor_kind: ActorKind::Staff,
        actor_account: None,
        decision_maker: Some("Jordan Okoro, service desk (demo)".to_owned()),
        reason: Some("Evidence checked (demo data).".to_owned()),
    };
    let grants = [
        (
            "daniel",
            DANIEL,
            "Daniel",
            "Hart",
            "1982-01-30",
            OLIVER,
            "father",
            ProxyBasisKind::ParentalResponsibility,
            Scope::all_sections(),
            "Birth certificate seen (demo)",
        ),
        (
            "ngozi",
            NGOZI,
            "Ngozi",
            "Okafor",
            "1968-07-14",
            GRACE,
            "daughter",
            ProxyBasisKind::LastingPowerOfAttorney,
            Scope {
                appointments: true,
                letters: true,
                ..Scope::default()
            },
            "LPA registration M-7891-2345-6789 (demo)",
        ),
    ];
    for (
        id,
        nhs_number,
        given,
        family,
        born,
        patient_number,
        relationship,
        basis,
        scope,
        evidence,
    ) in grants
    {
        let own = storage
            .find_or_create_patient(&parse_number(nhs_number)?, now)
            .await?;
        let account = storage
            .ensure_account(NewSignIn {
                issuer: issuer.to_owned(),
                subject: format!("simulated-{id}"),
                role: AccountRole::Patient,
                identity_level: Some("P9".to_owned()),
                patient_id: Some(own.id),
                given_name: Some(given.to_owned()),
                family_name: Some(family.to_owned()),
                birth_date: Some(born.to_owned()),
                at: now,
                request_id: None,
            })
            .await?;
        let patient = storage
            .find_or_create_patient(&parse_number(patient_number)?, now)
            .await?;
        storage
            .create_grant(
                NewGrant {
                    patient: patient.id,
                    proxy: account.id,
                    basis,
                    relationship: relationship.to_owned(),
                    scope,
                    starts_at: now - Duration::days(60),
                    ends_at: None,
                    evidence_reference: Some(evidence.to_owned()),
                },
                "granted",
                desk.clone(),
                now - Duration::days(60),
                NewAuditEvent {
                    patient: Some(patient.id),
                    reason: Some(basis.code().to_owned()),
                    ..NewAuditEvent::new(now, ActorKind::System, action::PROXY_GRANTED)
                },
            )
            .await?;
    }
    // Amelia, Oliver's mother, has applied for parental responsibility: her application
    // waits in the service desk's queue.
    let amelia = storage
        .find_or_create_patient(&parse_number(AMELIA)?, now)
        .await?;
    let amelia_account = storage
        .ensure_account(NewSignIn {
            issuer: issuer.to_owned(),
            subject: "simulated-amelia".to_owned(),
            role: AccountRole::Patient,
            identity_level: Some("P9".to_owned()),
            patient_id: Some(amelia.id),
            given_name: Some("Amelia".to_owned()),
            family_name: Some("Hart".to_owned()),
            birth_date: Some("1984-06-12".to_owned()),
            at: now,
            request_id: None,
        })
        .await?;
    let oliver = storage
        .find_or_create_patient(&parse_number(OLIVER)?, now)
        .await?;
    storage
        .create_application(
            app::server::storage::NewApplication {
                applicant: amelia_account.id,
                basis: ProxyBasisKind::ParentalResponsibility,
                relationship: "mother".to_owned(),
                patient_nhs_number: OLIVER.to_owned(),
                patient_birth_date: chrono::NaiveDate::from_ymd_opt(2017, 3, 21)
                    .unwrap_or_default(),
                evidence_reference: "Birth certificate QBC 123456 (demo)".to_owned(),
                at: now - Duration::days(2),
            },
            NewAuditEvent {
                actor_account: Some(amelia_account.id),
                patient: Some(oliver.id),
                reason: Some(ProxyBasisKind::ParentalResponsibility.code().to_owned()),
                ..NewAuditEvent::new(now, ActorKind::Proxy, action::PROXY_APPLIED)
            },
        )
        .await?;
    Ok(())
}

fn parse_number(number: &str) -> Result<app::domain::NhsNumber, DemoError> {
    app::domain::NhsNumber::parse(number).map_err(|_| {
        DemoError::Storage(app::server::storage::StorageError::Corrupt(
            "demo NHS number",
        ))
    })
}

async fn create(
    storage: &dyn Storage,
    ods: &str,
    name: &str,
    kind: OrganisationKind,
    now: DateTime<Utc>,
) -> Result<Organisation, DemoError> {
    // The demo sources never send over HTTP; their credentials are made and forgotten.
    // `server organisation rotate-credential` issues one that can be used.
    let (_, credential_hash) = new_credential();
    let ods_code = app::domain::OdsCode::parse(ods).map_err(|_| {
        DemoError::Storage(app::server::storage::StorageError::Corrupt("demo ODS code"))
    })?;
    Ok(storage
        .create_organisation(NewOrganisation {
            ods_code,
            name: name.to_owned(),
            kind,
            credential_hash,
            at: now,
        })
        .await?)
}

// --- Bundle building -------------------------------------------------------------

struct BundleBuilder {
    ods: &'static str,
    /// Each entry as JSON text (see [`BundleBuilder::finish`]).
    entries: Vec<String>,
    counter: usize,
}

impl BundleBuilder {
    fn new(ods: &'static str) -> Self {
        Self {
            ods,
            entries: Vec::new(),
            counter: 0,
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}-{:04}", self.ods, self.counter)
    }

    fn identifier(&self, value: &str) -> Value {
        json!([{ "system": format!("https://fhir.{}.nhs.uk/Id/record", self.ods.to_ascii_lowercase()), "value": value }])
    }

    fn performer(&self) -> Value {
        json!([{ "identifier": { "system": ODS_SYSTEM, "value": self.ods } }])
    }

    fn add(&mut self, full_url: String, resource: Value) {
        let resource_type = resource["resourceType"]
            .as_str()
            .unwrap_or("Resource")
            .to_owned();
        let id = resource["identifier"][0]["value"]
            .as_str()
            .unwrap_or("x")
            .to_owned();
        self.entries.push(
            json!({
                "fullUrl": full_url,
                "resource": resource,
                "request": { "method": "PUT", "url": format!("{resource_type}?identifier={id}") }
            })
            .to_string(),
        );
    }

    fn patient(
        &mut self,
        nhs: &str,
        family: &str,
        given: &str,
        birth: &str,
        gender: &str,
    ) -> String {
        let url = format!("urn:uuid:patient-{nhs}");
        self.add(
            url.clone(),
            json!({
                "resourceType": "Patient",
                "identifier": [{ "system": NHS_SYSTEM, "value": nhs }],
                "name": [{ "use": "official", "family": family, "given": [given] }],
                "birthDate": birth,
                "gender": gender,
                "generalPractitioner": [{ "identifier": { "system": ODS_SYSTEM, "value": GP_ODS } }]
            }),
        );
        url
    }

    #[allow(clippy::too_many_arguments)]
    fn appointment(
        &mut self,
        patient: &str,
        start: DateTime<Utc>,
        minutes: i64,
        status: &str,
        specialty: &str,
        description: &str,
        place: &str,
        channel: &str,
        instruction: Option<&str>,
        cancellation: Option<&str>,
    ) {
        let id = self.next_id("APT");
        let mut resource = json!({
            "resourceType": "Appointment",
            "identifier": self.identifier(&id),
            "status": status,
            "extension": [{ "url": CHANNEL_URL, "valueCode": channel }],
            "specialty": [{ "text": specialty }],
            "description": description,
            "start": fhir_time(start),
            "end": fhir_time(start + Duration::minutes(minutes)),
            "participant": [
                { "actor": { "reference": patient }, "status": "accepted" },
                { "actor": { "type": "Location", "display": place }, "status": "accepted" }
            ]
        });
        if let Some(text) = instruction {
            resource["patientInstruction"] = json!(text);
        }
        if let Some(reason) = cancellation {
            resource["cancelationReason"] = json!({ "text": reason });
        }
        self.add(format!("urn:uuid:{id}"), resource);
    }

    /// A blood test report with its observations: (code, name, value, unit, low, high).
    fn lab_report(
        &mut self,
        patient: &str,
        issued: DateTime<Utc>,
        panel: (&str, &str),
        results: &[(&str, &str, &str, &str, &str, &str)],
    ) {
        let report_id = self.next_id("LAB");
        let mut refs = Vec::new();
        for (code, name, value, unit, low, high) in results {
            let obs_id = self.next_id("OBS");
            let flag = interpretation(value, low, high);
            let url = format!("urn:uuid:{obs_id}");
            refs.push(json!({ "reference": url }));
            let body = format!(
                r#"{{"resourceType":"Observation","identifier":{identifier},"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"coding":[{{"system":"{LOINC}","code":"{code}","display":"{name}"}}],"text":"{name}"}},"subject":{{"reference":"{patient}"}},"effectiveDateTime":"{effective}","issued":"{issued}","valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org"}},"interpretation":[{{"coding":[{{"system":"{INTERPRETATION}","code":"{flag}"}}]}}],"referenceRange":[{{"low":{{"value":{low},"unit":"{unit}"}},"high":{{"value":{high},"unit":"{unit}"}}}}]}}"#,
                identifier = self.identifier(&obs_id),
                effective = fhir_time(issued - Duration::hours(20)),
                issued = fhir_time(issued),
            );
            // Written as text, not through serde_json's Value, so that decimals such as
            // 11.20 arrive exactly as a laboratory system writes them.
            self.entries.push(format!(
                r#"{{"fullUrl":"{url}","resource":{body},"request":{{"method":"PUT","url":"Observation?identifier={obs_id}"}}}}"#
            ));
        }
        self.add(format!("urn:uuid:{report_id}"), json!({
            "resourceType": "DiagnosticReport",
            "identifier": self.identifier(&report_id),
            "status": "final",
            "category": [{ "coding": [{ "system": V2_0074, "code": "LAB", "display": "Laboratory" }] }],
            // SNOMED CT for the usual panels; a practice's local code otherwise.
            "code": { "coding": [{ "system": if panel.0.bytes().all(|b| b.is_ascii_digit()) { SNOMED.to_owned() } else { format!("https://fhir.{}.nhs.uk/CodeSystem/local-tests", self.ods.to_ascii_lowercase()) }, "code": panel.0, "display": panel.1 }], "text": panel.1 },
            "subject": { "reference": patient },
            "effectiveDateTime": fhir_time(issued - Duration::hours(20)),
            "issued": fhir_time(issued),
            "performer": self.performer(),
            "result": refs
        }));
    }

    fn text_report(
        &mut self,
        patient: &str,
        issued: DateTime<Utc>,
        category: &str,
        code: (&str, &str),
        text: &str,
        conclusion: &str,
    ) {
        let id = self.next_id("RAD");
        self.add(format!("urn:uuid:{id}"), json!({
            "resourceType": "DiagnosticReport",
            "identifier": self.identifier(&id),
            "status": "final",
            "category": [{ "coding": [{ "system": V2_0074, "code": category }] }],
            "code": { "coding": [{ "system": SNOMED, "code": code.0, "display": code.1 }], "text": code.1 },
            "subject": { "reference": patient },
            "effectiveDateTime": fhir_time(issued - Duration::days(1)),
            "issued": fhir_time(issued),
            "performer": self.performer(),
            "conclusion": conclusion,
            "presentedForm": [{ "contentType": "text/plain", "data": base64(text.as_bytes()), "title": code.1 }]
        }));
    }

    fn letter(
        &mut self,
        patient: &str,
        date: DateTime<Utc>,
        type_code: (&str, &str),
        description: &str,
        body: &[&str],
    ) {
        let id = self.next_id("DOC");
        let pdf = simple_pdf(description, body);
        self.add(format!("urn:uuid:{id}"), json!({
            "resourceType": "DocumentReference",
            "masterIdentifier": { "system": format!("https://fhir.{}.nhs.uk/Id/document", self.ods.to_ascii_lowercase()), "value": id },
            "identifier": self.identifier(&id),
            "status": "current",
            "docStatus": "final",
            "type": { "coding": [{ "system": SNOMED, "code": type_code.0, "display": type_code.1 }], "text": type_code.1 },
            "subject": { "reference": patient },
            "date": fhir_time(date),
            "author": self.performer(),
            "custodian": { "identifier": { "system": ODS_SYSTEM, "value": self.ods } },
            "description": description,
            "content": [{ "attachment": { "contentType": "application/pdf", "title": format!("{description}.pdf"), "size": pdf.len(), "data": base64(&pdf) } }]
        }));
    }

    fn discharge_summary(&mut self, patient: &str, date: DateTime<Utc>, sections: &[(&str, &str)]) {
        let id = self.next_id("DIS");
        let sections: Vec<Value> = sections
            .iter()
            .map(|(title, html)| json!({
                "title": title,
                "text": { "status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{html}</div>") }
            }))
            .collect();
        self.add(format!("urn:uuid:{id}"), json!({
            "resourceType": "Composition",
            "identifier": self.identifier(&id),
            "status": "final",
            "type": { "coding": [{ "system": SNOMED, "code": "373942005", "display": "Discharge summary" }], "text": "Discharge summary" },
            "subject": { "reference": patient },
            "date": fhir_time(date),
            "author": self.performer(),
            "custodian": { "identifier": { "system": ODS_SYSTEM, "value": self.ods } },
            "title": "Discharge summary",
            "section": sections
        }));
    }

    fn encounter(
        &mut self,
        patient: &str,
        class: (&str, &str),
        kind: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        place: &str,
    ) {
        let id = self.next_id("ENC");
        self.add(format!("urn:uuid:{id}"), json!({
            "resourceType": "Encounter",
            "identifier": self.identifier(&id),
            "status": "finished",
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class.0, "display": class.1 },
            "type": [{ "text": kind }],
            "subject": { "reference": patient },
            "period": { "start": fhir_time(start), "end": fhir_time(end) },
            "location": [{ "location": { "display": place } }],
            "serviceProvider": { "identifier": { "system": ODS_SYSTEM, "value": self.ods } }
        }));
    }

    /// The transaction bundle as text.
    fn finish(self) -> String {
        format!(
            r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
            self.entries.join(",")
        )
    }
}

fn hospital_bundle(now: DateTime<Utc>) -> String {
    let mut b = BundleBuilder::new(HOSPITAL_ODS);
    let amelia = b.patient(AMELIA, "Hart", "Amelia", "1984-06-12", "female");
    let grace = b.patient(GRACE, "Okafor", "Grace", "1941-02-03", "female");
    let mohammed = b.patient(MOHAMMED, "Iqbal", "Mohammed", "1968-09-30", "male");
    let oliver = b.patient(OLIVER, "Hart", "Oliver", "2017-03-21", "male");

    let clinic = "Outpatients Department, Level 2, Northgate General Hospital";
    b.appointment(
        &amelia,
        day(now, 9, 10, 30),
        30,
        "booked",
        "Rheumatology",
        "Rheumatology follow-up",
        clinic,
        "In-person",
        Some("Please arrive 10 minutes early and bring a list of your current medicines."),
        None,
    );
    b.appointment(
        &amelia,
        day(now, 23, 14, 0),
        20,
        "booked",
        "Physiotherapy",
        "Knee physiotherapy review",
        "Physiotherapy Gym, Northgate General Hospital",
        "Video",
        Some("You will get a text message with a link to join the video call 15 minutes before."),
        None,
    );
    b.appointment(
        &amelia,
        day(now, -48, 9, 0),
        30,
        "fulfilled",
        "Rheumatology",
        "Rheumatology new patient appointment",
        clinic,
        "In-person",
        None,
        None,
    );
    b.appointment(
        &amelia,
        day(now, 4, 11, 15),
        15,
        "cancelled",
        "Radiology",
        "Knee X-ray",
        "X-ray Department, Northgate General Hospital",
        "In-person",
        None,
        Some("Cancelled by the hospital: the scan was done on an earlier date."),
    );
    b.appointment(&grace, day(now, 6, 9, 45), 30, "booked", "Cardiology", "Heart failure clinic", clinic, "Telephone",
        Some("The cardiology nurse will call you on your home phone number. The call may come up to 30 minutes after your appointment time."), None);
    b.appointment(
        &mohammed,
        day(now, 15, 8, 30),
        40,
        "booked",
        "Diabetes",
        "Diabetes annual review",
        "Diabetes Centre, Northgate General Hospital",
        "In-person",
        Some(
            "Please do not eat or drink anything except water for 8 hours before your appointment.",
        ),
        None,
    );
    b.appointment(
        &oliver,
        day(now, 12, 16, 0),
        30,
        "booked",
        "Paediatrics",
        "Children's asthma clinic",
        "Children's Outpatients, Northgate General Hospital",
        "In-person",
        None,
        None,
    );

    // Blood tests over time, so that trends have something to show.
    for (days_ago, hb, wcc, plt) in [
        (150, "118", "7.40", "265"),
        (70, "124", "11.20", "301"),
        (8, "131", "6.90", "254"),
    ] {
        b.lab_report(
            &amelia,
            day(now, -days_ago, 16, 5),
            ("26604007", "Full blood count"),
            &[
                ("718-7", "Haemoglobin", hb, "g/L", "115", "165"),
                ("6690-2", "White cell count", wcc, "10*9/L", "4.0", "11.0"),
                ("777-3", "Platelets", plt, "10*9/L", "150", "400"),
            ],
        );
    }
    b.lab_report(
        &amelia,
        day(now, -8, 16, 5),
        ("55235003", "C-reactive protein"),
        &[("1988-5", "C-reactive protein", "12", "mg/L", "0", "5")],
    );
    b.lab_report(
        &mohammed,
        day(now, -30, 15, 0),
        ("43396009", "HbA1c"),
        &[("4548-4", "HbA1c (IFCC)", "58", "mmol/mol", "20", "41")],
    );
    b.lab_report(
        &mohammed,
        day(now, -30, 15, 0),
        ("444164000", "Urea and electrolytes"),
        &[
            ("2951-2", "Sodium", "139", "mmol/L", "133", "146"),
            ("2823-3", "Potassium", "4.6", "mmol/L", "3.5", "5.3"),
            ("14682-9", "Creatinine", "96", "umol/L", "59", "104"),
        ],
    );

    // Radiology: one old enough to be shared, one still inside its 28-day delay.
    b.text_report(&amelia, day(now, -40, 12, 0), "RAD", ("399208008", "Chest X-ray"),
        "Chest X-ray, PA view.\n\nThe lungs are clear. The heart is normal in size. No pleural effusion. No bony abnormality.",
        "Normal chest X-ray.");
    b.text_report(&amelia, day(now, -5, 17, 30), "NMR", ("2491000087104", "MRI of right knee"),
        "MRI right knee.\n\nSmall horizontal tear of the posterior horn of the medial meniscus. Mild joint effusion. Cruciate and collateral ligaments intact.",
        "Medial meniscal tear.");
    b.text_report(&grace, day(now, -12, 10, 0), "CUS", ("433236007", "Echocardiogram"),
        "Transthoracic echocardiogram.\n\nModerately impaired left ventricular systolic function, ejection fraction estimated at 40%. Mild mitral regurgitation.",
        "Left ventricular systolic dysfunction, unchanged from last year.");
    b.text_report(
        &amelia,
        day(now, -6, 9, 0),
        "SP",
        ("104157003", "Histopathology of skin biopsy"),
        "Skin biopsy, left forearm. Benign intradermal naevus. Completely excised.",
        "Benign.",
    );

    b.letter(
        &amelia,
        day(now, -46, 10, 0),
        ("371531000", "Clinic letter"),
        "Rheumatology clinic letter",
        &[
            "Dear Ms Hart,",
            "Thank you for coming to the rheumatology clinic.",
            "We discussed your knee pain and agreed to arrange an MRI scan.",
            "Yours sincerely,",
            "Dr A Patel, Consultant Rheumatologist",
        ],
    );
    b.discharge_summary(&grace, day(now, -20, 15, 0), &[
        ("Reason for admission", "<p>Breathlessness and ankle swelling caused by worsening heart failure.</p>"),
        ("Treatment", "<p>Intravenous furosemide for 3 days, then switched to tablets. Weight fell by 3 kg.</p>"),
        ("Medicines on discharge", "<ul><li>Furosemide 40 mg each morning</li><li>Bisoprolol 2.5 mg once a day</li><li>Ramipril 2.5 mg once a day</li></ul>"),
        ("Follow-up", "<p>Heart failure nurse to telephone within 2 weeks. Please weigh yourself every morning.</p>"),
    ]);
    b.encounter(
        &grace,
        ("IMP", "inpatient encounter"),
        "Emergency admission, cardiology",
        day(now, -25, 22, 10),
        day(now, -20, 14, 0),
        "Ward 7, Northgate General Hospital",
    );
    b.encounter(
        &oliver,
        ("EMER", "emergency"),
        "Emergency department attendance",
        day(now, -60, 19, 0),
        day(now, -60, 23, 30),
        "Emergency Department, Northgate General Hospital",
    );
    b.finish()
}

fn gp_bundle(now: DateTime<Utc>) -> String {
    let mut b = BundleBuilder::new(GP_ODS);
    let amelia = b.patient(AMELIA, "Hart", "Amelia", "1984-06-12", "female");
    let sophie = b.patient(
        SOPHIE,
        "Turner",
        "Sophie",
        &sophie_birthdate(now.date_naive()),
        "female",
    );
    let mohammed = b.patient(MOHAMMED, "Iqbal", "Mohammed", "1968-09-30", "male");
    let surgery = "Riverside Medical Practice, 14 Mill Lane";
    b.appointment(
        &amelia,
        day(now, 2, 8, 40),
        10,
        "booked",
        "General practice",
        "Appointment with a GP",
        surgery,
        "Telephone",
        Some("The GP will call you. If you miss the call, the practice will try again once."),
        None,
    );
    b.appointment(
        &amelia,
        day(now, -95, 9, 20),
        10,
        "fulfilled",
        "General practice",
        "Appointment with a GP",
        surgery,
        "In-person",
        None,
        None,
    );
    b.appointment(
        &sophie,
        day(now, 19, 15, 30),
        10,
        "booked",
        "Practice nursing",
        "Vaccination appointment",
        surgery,
        "In-person",
        None,
        None,
    );
    b.appointment(
        &mohammed,
        day(now, -3, 10, 0),
        20,
        "noshow",
        "Practice nursing",
        "Diabetic foot check",
        surgery,
        "In-person",
        None,
        None,
    );
    b.lab_report(
        &amelia,
        day(now, -200, 14, 0),
        ("35650009", "Thyroid function"),
        &[
            ("3016-3", "TSH", "2.10", "mU/L", "0.27", "4.20"),
            ("3024-7", "Free T4", "15.3", "pmol/L", "12.0", "22.0"),
        ],
    );
    b.lab_report(
        &mohammed,
        day(now, -180, 12, 0),
        ("43396009", "HbA1c"),
        &[("4548-4", "HbA1c (IFCC)", "63", "mmol/mol", "20", "41")],
    );
    // A sexual health test: stored, labelled from the code list, and never shown in
    // the portal (it shows up only in the sender's "not shown" count).
    b.lab_report(
        &amelia,
        day(now, -45, 11, 0),
        ("SHS", "Sexual health screen"),
        &[(
            "21613-5",
            "Chlamydia trachomatis DNA",
            "0",
            "index",
            "0",
            "1",
        )],
    );
    b.letter(
        &mohammed,
        day(now, -28, 11, 0),
        ("823701000000103", "Referral letter"),
        "Referral to the diabetes clinic",
        &[
            "Dear colleague,",
            "Please see Mr Iqbal, whose HbA1c remains above target despite metformin.",
            "Riverside Medical Practice",
        ],
    );
    b.finish()
}

fn community_bundle(now: DateTime<Utc>) -> String {
    let mut b = BundleBuilder::new(COMMUNITY_ODS);
    let grace = b.patient(GRACE, "Okafor", "Grace", "1941-02-03", "female");
    let oliver = b.patient(OLIVER, "Hart", "Oliver", "2017-03-21", "male");
    b.appointment(
        &grace,
        day(now, 1, 13, 0),
        45,
        "booked",
        "District nursing",
        "District nurse home visit",
        "Your home",
        "In-person",
        Some("The nurse will visit between 1pm and 3pm."),
        None,
    );
    b.appointment(
        &grace,
        day(now, -7, 13, 0),
        45,
        "fulfilled",
        "District nursing",
        "District nurse home visit",
        "Your home",
        "In-person",
        None,
        None,
    );
    b.appointment(
        &oliver,
        day(now, 30, 10, 0),
        60,
        "booked",
        "Speech and language therapy",
        "Speech and language therapy assessment",
        "Northgate Children's Centre",
        "In-person",
        None,
        None,
    );
    b.letter(
        &grace,
        day(now, -15, 16, 0),
        ("734163000", "Care plan"),
        "Community nursing care plan",
        &[
            "Care plan for Mrs Okafor.",
            "Daily weight check. Leg dressings changed on Mondays and Thursdays.",
            "Call the district nursing team on 0300 000 0000 if your legs become red or painful.",
        ],
    );
    b.finish()
}

/// One appointment whose patient the feed cannot identify: its NHS number (Mohammed
/// Iqbal's, 999 000 4129, mistyped as 999 000 4128) fails its check digit.
fn held_bundle(now: DateTime<Utc>) -> String {
    let mut b = BundleBuilder::new(GP_ODS);
    let id = b.next_id("HELD");
    let resource = json!({
        "resourceType": "Appointment",
        "identifier": b.identifier(&id),
        "status": "booked",
        "specialty": [{ "text": "General practice" }],
        "description": "Annual review",
        "start": fhir_time(day(now, 12, 9, 30)),
        "end": fhir_time(day(now, 12, 9, 50)),
        "participant": [
            { "actor": { "identifier": { "system": NHS_SYSTEM, "value": "9990004128" } }, "status": "accepted" },
            { "actor": { "type": "Location", "display": "Riverside Medical Practice" }, "status": "accepted" }
        ]
    });
    b.add(format!("urn:uuid:{id}"), resource);
    b.finish()
}

/// One appointment that names a patient the bundle does not carry: held, and for the
/// service desk to send back to the community service.
fn unmatched_bundle(now: DateTime<Utc>) -> String {
    let mut b = BundleBuilder::new(COMMUNITY_ODS);
    let id = b.next_id("HELD");
    let resource = json!({
        "resourceType": "Appointment",
        "identifier": b.identifier(&id),
        "status": "booked",
        "specialty": [{ "text": "Podiatry" }],
        "description": "Podiatry clinic",
        "start": fhir_time(day(now, 20, 11, 0)),
        "end": fhir_time(day(now, 20, 11, 30)),
        "participant": [
            { "actor": { "reference": "Patient/CHS-404-17" }, "status": "accepted" },
            { "actor": { "type": "Location", "display": "Northgate Foot Clinic" }, "status": "accepted" }
        ]
    });
    b.add(format!("urn:uuid:{id}"), resource);
    b.finish()
}

// --- Helpers ----------------------------------------------------------------------

/// Sophie is always 12 (her 13th birthday two months away), so the demo can show the
/// age rule whenever it is run.
pub fn sophie_birthdate(today: chrono::NaiveDate) -> String {
    let birthday = today + Duration::days(60);
    let born = birthday.with_year(birthday.year() - 13).unwrap_or(birthday);
    born.format("%Y-%m-%d").to_string()
}

/// A moment `days` from today at the given hour and minute (UTC).
fn day(now: DateTime<Utc>, days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    let date = (now + Duration::days(days)).date_naive();
    date.and_hms_opt(hour, minute, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

fn fhir_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn interpretation(value: &str, low: &str, high: &str) -> &'static str {
    let (Ok(v), Ok(l), Ok(h)) = (
        value.parse::<f64>(),
        low.parse::<f64>(),
        high.parse::<f64>(),
    ) else {
        return "N";
    };
    if v < l {
        "L"
    } else if v > h {
        "H"
    } else {
        "N"
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A small, valid one-page PDF with lines of text, as a clinic system would attach
/// (the tests attach the same kind).
pub fn simple_pdf(title: &str, lines: &[&str]) -> Vec<u8> {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let mut content = format!("BT /F1 16 Tf 72 760 Td ({}) Tj ET\n", escape(title));
    for (i, line) in lines.iter().enumerate() {
        content.push_str(&format!(
            "BT /F1 11 Tf 72 {} Td ({}) Tj ET\n",
            720 - 18 * i as i32,
            escape(line)
        ));
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{}endstream", content.len(), content),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{}\nendobj\n", i + 1, object));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}
