//! The feed API as a sending organisation meets it: credentials, transactions and
//! batches, exactly-once re-delivery, and a precise `OperationOutcome` for everything it
//! refuses. Real UK Core examples go through it too.
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::storage::NewOrganisation;
use serde_json::{Value, json};
use server::config::SettingsArgs;
use server::credentials::new_credential;
use support::{TestServer, spawn, test_now};

struct Feed {
    server: TestServer,
    token: String,
    client: reqwest::Client,
}

async fn feed_with(args: SettingsArgs) -> Feed {
    let server = spawn(args).await;
    let (token, credential_hash) = new_credential();
    server
        .storage
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse("RXX").unwrap(),
            name: "Northgate University Hospitals".into(),
            kind: OrganisationKind::HospitalTrust,
            credential_hash,
            at: test_now(),
        })
        .await
        .unwrap();
    Feed {
        server,
        token,
        client: support::http_client(),
    }
}

async fn feed() -> Feed {
    feed_with(SettingsArgs::default()).await
}

impl Feed {
    async fn post(&self, body: &str) -> (u16, Value) {
        self.post_as(Some(&self.token), "application/fhir+json", body)
            .await
    }

    async fn post_as(&self, token: Option<&str>, content_type: &str, body: &str) -> (u16, Value) {
        self.send("/fhir", token, content_type, body).await
    }

    /// Posts FHIR JSON with the sender's credential to a feed path.
    async fn post_to(&self, path: &str, body: &str) -> (u16, Value) {
        self.send(path, Some(&self.token), "application/fhir+json", body)
            .await
    }

    async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.server.url(path))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn transaction(entries: Vec<Value>) -> String {
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries }).to_string()
}

fn patient_entry(nhs: &str) -> Value {
    json!({ "fullUrl": "urn:uuid:p1", "resource": {
        "resourceType": "Patient",
        "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs }],
        "name": [{ "family": "Hart", "given": ["Amelia"] }]
    }})
}

fn observation_entry(id: &str, value: &str) -> Value {
    let text = format!(
        r#"{{"fullUrl":"urn:uuid:{id}","resource":{{"resourceType":"Observation","identifier":[{{"system":"https://lab.rxx.example/id","value":"{id}"}}],"status":"final","code":{{"text":"Sodium"}},"subject":{{"reference":"urn:uuid:p1"}},"performer":[{{"identifier":{{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RXX"}}}}],"valueQuantity":{{"value":{value},"unit":"mmol/L"}}}}}}"#
    );
    serde_json::from_str(&text).unwrap()
}

fn issue(outcome: &Value) -> (&str, &str) {
    (
        outcome["issue"][0]["code"].as_str().unwrap_or_default(),
        outcome["issue"][0]["expression"][0]
            .as_str()
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn without_a_valid_credential_nothing_is_accepted() {
    let feed = feed().await;
    let body = transaction(vec![patient_entry("9990000018")]);
    let (status, outcome) = feed.post_as(None, "application/fhir+json", &body).await;
    assert_eq!(
        (status, outcome["resourceType"].as_str()),
        (401, Some("OperationOutcome"))
    );
    assert_eq!(issue(&outcome).0, "security");
    let (status, _) = feed
        .post_as(
            Some("hrp_not-a-real-credential"),
            "application/fhir+json",
            &body,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_capability_statement_says_what_is_supported() {
    let feed = feed().await;
    let statement: Value = feed
        .client
        .get(feed.server.url("/fhir/metadata"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    let interactions: Vec<&str> = statement["rest"][0]["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(interactions, ["transaction", "batch"]);
}

#[tokio::test]
async fn a_transaction_is_stored_once_and_a_change_makes_a_new_version() {
    let feed = feed().await;
    let body = transaction(vec![
        patient_entry("9990000018"),
        observation_entry("na-1", "140.0"),
    ]);
    let (status, first) = feed.post(&body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["type"], "transaction-response");
    assert_eq!(first["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(first["entry"][1]["response"]["status"], "201 Created");
    assert_eq!(first["entry"][1]["response"]["etag"], "W/\"1\"");

    let (status, again) = feed.post(&body).await;
    assert_eq!(status, 200);
    assert_eq!(again["entry"][1]["response"]["status"], "200 OK");
    assert_eq!(
        again["entry"][1]["response"]["location"], first["entry"][1]["response"]["location"],
        "same version"
    );

    let changed = transaction(vec![
        patient_entry("9990000018"),
        observation_entry("na-1", "141.0"),
    ]);
    let (_, third) = feed.post(&changed).await;
    assert_eq!(third["entry"][1]["response"]["etag"], "W/\"2\"");

    let rxx = feed
        .server
        .storage
        .find_organisation_by_ods_code(&OdsCode::parse("RXX").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rxx.last_received_at,
        Some(test_now()),
        "freshness for patients"
    );
}

#[tokio::test]
async fn an_entry_whose_patient_cannot_be_identified_is_held_not_dropped_or_guessed() {
    let feed = feed().await;
    let mut orphan = observation_entry("na-2", "4.50");
    orphan["resource"]["subject"] = json!({ "reference": "urn:uuid:nobody" });
    let (status, response) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            observation_entry("na-1", "1"),
            orphan,
        ]))
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["entry"][1]["response"]["status"], "201 Created");
    assert_eq!(response["entry"][2]["response"]["status"], "202 Accepted");
    let outcome = &response["entry"][2]["response"]["outcome"];
    assert_eq!(
        issue(outcome),
        ("not-found", "Bundle.entry[2].resource.subject")
    );
    let queue = feed.server.storage.list_held_resources(10).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert!(
        queue[0].raw_resource.contains("urn:uuid:nobody"),
        "kept as received"
    );
}

#[tokio::test]
async fn a_transaction_with_one_invalid_entry_stores_nothing() {
    let feed = feed().await;
    let mut bad = observation_entry("na-2", "1");
    bad["resource"]
        .as_object_mut()
        .unwrap()
        .remove("identifier");
    let (status, outcome) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            observation_entry("na-1", "1"),
            bad,
        ]))
        .await;
    assert_eq!(status, 422, "{outcome}");
    assert_eq!(
        issue(&outcome),
        ("invalid", "Bundle.entry[2].resource.identifier")
    );
    let nhs = app::domain::NhsNumber::parse("9990000018").unwrap();
    assert_eq!(
        feed.server
            .storage
            .find_patient_by_nhs_number(&nhs)
            .await
            .unwrap(),
        None,
        "all or nothing"
    );
    assert!(
        feed.server
            .storage
            .list_held_resources(10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_batch_answers_entry_by_entry() {
    let feed = feed().await;
    let mut bad = observation_entry("na-2", "1");
    bad["resource"]["subject"] = json!({ "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765911" } });
    let mut good = observation_entry("na-1", "1");
    good["resource"]["subject"] = json!({ "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018" } });
    let body =
        json!({ "resourceType": "Bundle", "type": "batch", "entry": [good, bad] }).to_string();
    let (status, response) = feed.post(&body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["type"], "batch-response");
    assert_eq!(response["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(
        response["entry"][1]["response"]["status"], "202 Accepted",
        "an invalid NHS number: held, pointing at the number"
    );
    let outcome = &response["entry"][1]["response"]["outcome"];
    assert_eq!(
        issue(outcome).1,
        "Bundle.entry[1].resource.subject.identifier.value"
    );
}

#[tokio::test]
async fn records_of_another_organisation_are_forbidden() {
    let feed = feed().await;
    let mut entry = observation_entry("na-1", "1");
    entry["resource"]["performer"][0]["identifier"]["value"] = json!("Y09001");
    let (status, outcome) = feed
        .post(&transaction(vec![patient_entry("9990000018"), entry]))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        issue(&outcome),
        ("forbidden", "Bundle.entry[1].resource.performer")
    );
}

#[tokio::test]
async fn malformed_truncated_deep_or_wrongly_typed_bodies_get_400_or_415_never_500() {
    let feed = feed().await;
    let whole = transaction(vec![patient_entry("9990000018")]);
    let deep = "[".repeat(100_000);
    for body in [
        "",
        "{",
        "not json",
        &whole[..whole.len() / 2],
        deep.as_str(),
        "{\"resourceType\":\"Patient\"}",
        "{\"resourceType\":\"Bundle\"}",
    ] {
        let (status, outcome) = feed.post(body).await;
        assert_eq!(status, 400, "{:.40} -> {outcome}", body);
        assert_eq!(outcome["resourceType"], "OperationOutcome");
    }
    let (status, _) = feed.post_as(Some(&feed.token), "text/plain", &whole).await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let feed = feed_with(SettingsArgs {
        feed_max_body_bytes: Some(2_000),
        ..SettingsArgs::default()
    })
    .await;
    let entries = (0..40)
        .map(|i| observation_entry(&format!("na-{i}"), "1"))
        .collect();
    let (status, outcome) = feed.post(&transaction(entries)).await;
    assert_eq!(status, 413);
    assert_eq!(issue(&outcome).0, "too-long");
}

/// Every UK Core example, wrapped in a transaction of its own: accepted, or refused with
/// an OperationOutcome that names the element. Never a server error.
#[tokio::test]
async fn every_uk_core_example_is_accepted_or_precisely_refused() {
    let feed = feed().await;
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/ukcore");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("shared/fixtures/ukcore beside the checkout")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    // The examples refer to their patient as Patient/<id>: send that patient along.
    let patient: Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("UKCore-Patient-RichardSmith-Example.json")).unwrap(),
    )
    .unwrap();
    let entry = |r: &Value| json!({ "fullUrl": format!("urn:uuid:{}", r["id"].as_str().unwrap_or("x")), "resource": r });
    let mut accepted = 0;
    for file in files {
        let resource: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let body = match resource["resourceType"].as_str() {
            Some("Bundle") => resource.to_string(),
            Some("Patient") => transaction(vec![entry(&resource)]),
            _ => transaction(vec![entry(&patient), entry(&resource)]),
        };
        let (status, answer) = feed.post(&body).await;
        eprintln!(
            "{}: {status} {}",
            file.file_name().unwrap().to_string_lossy(),
            answer["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or("accepted")
        );
        assert!(status < 500, "{}: {status} {answer}", file.display());
        if status >= 400 {
            assert_eq!(
                answer["resourceType"],
                "OperationOutcome",
                "{}",
                file.display()
            );
            let (_, expression) = issue(&answer);
            assert!(
                status == 403 || !expression.is_empty(),
                "{}: no expression in {answer}",
                file.display()
            );
        } else {
            accepted += 1;
        }
    }
    eprintln!("UK Core examples accepted: {accepted}");
}

impl Feed {
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.server.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn put(&self, path: &str, body: &str) -> (u16, Option<String>, Value) {
        support::feed_answer(
            self.client.put(self.server.url(path)),
            &self.token,
            body.to_owned(),
        )
        .await
    }
}

fn standalone_observation(value: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","identifier":[{{"system":"https://lab.rxx.example/id","value":"k-1"}}],"status":"final","code":{{"text":"Potassium"}},"subject":{{"identifier":{{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}}}},"valueQuantity":{{"value":{value},"unit":"mmol/L"}}}}"#
    )
}

#[tokio::test]
async fn conditional_update_creates_then_updates_and_read_back_shows_the_version() {
    let feed = feed().await;
    let path = "/fhir/Observation?identifier=https://lab.rxx.example/id|k-1";
    let (status, location, _) = feed.put(path, &standalone_observation("4.10")).await;
    assert_eq!(status, 201);
    let location = location.unwrap();
    assert!(
        location.starts_with("Observation/") && location.ends_with("/_history/1"),
        "{location}"
    );
    let (status, _, _) = feed.put(path, &standalone_observation("4.10")).await;
    assert_eq!(status, 200, "identical: unchanged");
    let (status, location, _) = feed.put(path, &standalone_observation("4.20")).await;
    assert_eq!(status, 200);
    assert!(location.unwrap().ends_with("/_history/2"));

    let id = location_id(&feed, path).await;
    let (status, resource) = feed.get(&format!("/fhir/Observation/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(resource["meta"]["versionId"], "2");
    assert_eq!(resource["id"], id.as_str());
    assert_eq!(resource["valueQuantity"]["value"], 4.2);

    let (status, found) = feed.get(path).await;
    assert_eq!(status, 200);
    assert_eq!(
        (found["type"].as_str(), found["total"].as_u64()),
        (Some("searchset"), Some(1))
    );
    let (_, none) = feed
        .get("/fhir/Observation?identifier=https://lab.rxx.example/id|nope")
        .await;
    assert_eq!(none["total"], 0);

    // Each read-back that found the resource is audited as the sender's, with the item
    // (the search that found nothing read nothing).
    let read_backs: Vec<_> = feed
        .server
        .storage
        .list_recent_audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == app::audit::action::FEED_READ_BACK)
        .collect();
    assert_eq!(read_backs.len(), 3);
    for row in &read_backs {
        assert_eq!(row.actor_kind, app::audit::ActorKind::Sender);
        assert!(row.actor_org.is_some());
        assert_eq!(
            row.target.as_deref(),
            Some(format!("Observation/{id}").as_str())
        );
    }
}

async fn location_id(feed: &Feed, path: &str) -> String {
    let (_, found) = feed.get(path).await;
    found["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn read_back_shows_only_the_senders_own_resources() {
    let feed = feed().await;
    let path = "/fhir/Observation?identifier=https://lab.rxx.example/id|k-1";
    feed.put(path, &standalone_observation("4.10")).await;
    let id = location_id(&feed, path).await;

    // Another organisation's credential sees nothing of it.
    let (other_token, hash) = new_credential();
    feed.server
        .storage
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse("Y09001").unwrap(),
            name: "Riverside Medical Practice".into(),
            kind: OrganisationKind::GpPractice,
            credential_hash: hash,
            at: test_now(),
        })
        .await
        .unwrap();
    let response = feed
        .client
        .get(feed.server.url(&format!("/fhir/Observation/{id}")))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let (status, _) = feed.get(&format!("/fhir/Appointment/{id}")).await;
    assert_eq!(status, 404, "the id is an Observation");
    let (status, outcome) = feed.get("/fhir/Patient/anything").await;
    assert_eq!(
        (status, outcome["resourceType"].as_str()),
        (404, Some("OperationOutcome"))
    );
}

#[tokio::test]
async fn conditional_update_refuses_a_resource_whose_identifier_disagrees_with_the_url() {
    let feed = feed().await;
    let (status, _, outcome) = feed
        .put(
            "/fhir/Observation?identifier=https://lab.rxx.example/id|other",
            &standalone_observation("1"),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(issue(&outcome), ("invalid", "Observation.identifier"));
    let (status, _, outcome) = feed
        .put("/fhir/Observation", &standalone_observation("1"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(issue(&outcome).0, "required");
}

#[tokio::test]
async fn sensitive_results_are_labelled_at_ingest_and_never_listed_for_display() {
    let feed = feed().await;
    let mut by_code = observation_entry("hiv-1", "1");
    by_code["resource"]["code"] = json!({ "coding": [{ "system": "http://loinc.org", "code": "7917-8", "display": "HIV 1 antibody" }] });
    let mut by_sender = observation_entry("lab-2", "1");
    by_sender["resource"]["meta"] = json!({ "security": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "SEX" }] });
    let (status, response) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            by_code,
            by_sender,
            observation_entry("na-1", "1"),
        ]))
        .await;
    assert_eq!(status, 200, "{response}");

    let nhs = app::domain::NhsNumber::parse("9990000018").unwrap();
    let patient = feed
        .server
        .storage
        .find_patient_by_nhs_number(&nhs)
        .await
        .unwrap()
        .unwrap();
    let everything = support::stored_items(feed.server.storage.as_ref(), patient.id).await;
    let labels: Vec<Vec<String>> = everything.iter().map(|i| i.labels.clone()).collect();
    assert!(labels.contains(&vec!["hiv".to_owned()]), "{labels:?}");
    assert!(
        labels.contains(&vec!["SEX".to_owned(), "sexual-health".to_owned()]),
        "{labels:?}"
    );

    let shown =
        support::decided_for_patient(feed.server.storage.as_ref(), patient.id, test_now()).await;
    let shown: Vec<_> = shown.items().iter().map(|d| &d.item).collect();
    assert_eq!(shown.len(), 1, "only the sodium result may be shown");
    assert!(shown[0].labels.is_empty());
}

/// The OpenAPI description is served, and every path it describes answers something
/// other than "not supported" (so it cannot drift from what is built).
#[tokio::test]
async fn the_openapi_description_is_served_and_matches_the_routes() {
    let feed = feed().await;
    let served: Value = feed
        .client
        .get(feed.server.url("/fhir/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let in_repo: Value = serde_json::from_str(server::feed::OPENAPI).unwrap();
    assert_eq!(served, in_repo);
    let paths = in_repo["paths"].as_object().unwrap();
    let mut answers = Vec::new();
    for (path, operations) in paths {
        let concrete = path
            .replace("{type}", "Observation")
            .replace("{id}", "no-such-id");
        for method in operations
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let url = feed
                .server
                .url(&format!("/fhir{}", concrete.trim_end_matches('/')));
            let request = match method.as_str() {
                "get" => feed.client.get(format!("{url}?identifier=a|b")),
                "post" => feed.client.post(&url),
                "put" => feed.client.put(format!("{url}?identifier=a|b")),
                other => panic!("unexpected method {other}"),
            };
            let response = request
                .bearer_auth(&feed.token)
                .header("content-type", "application/fhir+json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["issue"][0]["code"].as_str().unwrap_or("").to_owned();
            answers.push(format!("{method} {path}: {status} {code}"));
        }
    }
    // Each documented operation reaches its own handler, which answers the empty body
    // (or the made-up id) in its own way; none is "not supported" or "method not allowed".
    answers.sort();
    assert_eq!(
        answers,
        [
            "get /metadata: 200 ",
            "get /openapi.json: 200 ",
            "get /{type}/{id}: 404 not-found",
            "get /{type}: 200 ",
            "post /: 400 structure",
            "post /Bundle: 400 structure",
            "put /{type}: 400 invalid",
        ]
    );
}

fn discharge_document(first: Value) -> String {
    json!({ "resourceType": "Bundle", "type": "document", "entry": [
        first,
        patient_entry("9990000018"),
    ]})
    .to_string()
}

fn composition_entry() -> Value {
    json!({ "fullUrl": "urn:uuid:c1", "resource": {
        "resourceType": "Composition",
        "identifier": { "system": "https://docs.rxx.example/id", "value": "dis-1" },
        "status": "final",
        "type": { "coding": [{ "system": "http://snomed.info/sct", "code": "373942005", "display": "Discharge summary" }] },
        "subject": { "reference": "urn:uuid:p1" },
        "date": "2026-11-20T15:00:00+00:00",
        "title": "Discharge summary",
        "custodian": { "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RXX" } },
        "section": [{ "title": "Treatment", "text": { "status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Given <b>furosemide</b>.</p><script>alert(1)</script></div>" } }]
    }})
}

#[tokio::test]
async fn a_document_bundle_is_stored_with_its_narrative_sanitised() {
    use app::records::ItemDetails;

    let feed = feed().await;
    let (status, _) = feed
        .post_to("/fhir/Bundle", &discharge_document(composition_entry()))
        .await;
    assert_eq!(status, 200);
    let nhs = app::domain::NhsNumber::parse("9990000018").unwrap();
    let patient = feed
        .server
        .storage
        .find_patient_by_nhs_number(&nhs)
        .await
        .unwrap()
        .unwrap();
    let items = support::stored_items(feed.server.storage.as_ref(), patient.id).await;
    let ItemDetails::Document { sections, .. } = &items[0].details else {
        panic!("{:?}", items[0].details)
    };
    assert!(sections[0].narrative_xhtml.contains("<b>furosemide</b>"));
    assert!(!sections[0].narrative_xhtml.contains("script"));

    // A document must start with its Composition, and goes to /Bundle, not the base.
    let wrong_order = json!({ "resourceType": "Bundle", "type": "document", "entry": [patient_entry("9990000018"), composition_entry()] }).to_string();
    let (status, _) = feed.post_to("/fhir/Bundle", &wrong_order).await;
    assert_eq!(status, 422);
    let (status, outcome) = feed.post(&discharge_document(composition_entry())).await;
    assert_eq!(status, 422);
    assert_eq!(issue(&outcome), ("not-supported", "Bundle.type"));
}

fn document_entry(attachment: Value) -> Value {
    json!({ "fullUrl": "urn:uuid:d1", "resource": {
        "resourceType": "DocumentReference",
        "identifier": [{ "system": "https://docs.rxx.example/id", "value": "letter-1" }],
        "status": "current",
        "subject": { "reference": "urn:uuid:p1" },
        "custodian": { "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RXX" } },
        "description": "Clinic letter",
        "content": [{ "attachment": attachment }]
    }})
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

#[tokio::test]
async fn attachments_are_checked_and_stored_by_content_address() {
    use sha1::Digest as _;
    let feed = feed().await;
    let sha1 = b64(&sha1::Sha1::digest(PDF));
    let attachment = json!({ "contentType": "application/pdf", "data": b64(PDF), "size": PDF.len(), "hash": sha1, "title": "letter.pdf" });
    let (status, response) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            document_entry(attachment),
        ]))
        .await;
    assert_eq!(status, 200, "{response}");
    let address = hex::encode(sha2::Sha256::digest(PDF));
    let stored = feed
        .server
        .storage
        .get_attachment(&address)
        .await
        .unwrap()
        .expect("stored by its SHA-256");
    assert_eq!(stored.content, PDF);

    // The same bytes from a Binary in the bundle.
    let binary = json!({ "fullUrl": "urn:uuid:b1", "resource": { "resourceType": "Binary", "contentType": "text/plain", "data": b64(b"Plain letter") } });
    let mut entry = document_entry(json!({ "contentType": "text/plain", "url": "urn:uuid:b1" }));
    entry["resource"]["identifier"][0]["value"] = json!("letter-2");
    let (status, _) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            entry,
            binary,
        ]))
        .await;
    assert_eq!(status, 200);
    assert!(
        feed.server
            .storage
            .get_attachment(&hex::encode(sha2::Sha256::digest(b"Plain letter")))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn attachments_that_are_not_what_they_claim_are_refused_precisely() {
    let feed = feed().await;
    let cases = [
        (
            json!({ "contentType": "text/html", "data": b64(b"<script>") }),
            "contentType",
        ),
        (
            json!({ "contentType": "application/pdf", "data": b64(PDF), "size": 3 }),
            "size",
        ),
        (
            json!({ "contentType": "application/pdf", "data": b64(PDF), "hash": b64(b"not the hash") }),
            "hash",
        ),
        (
            json!({ "contentType": "application/pdf", "data": b64(b"MZ not a pdf") }),
            "data",
        ),
        (
            json!({ "contentType": "application/pdf", "data": "***" }),
            "data",
        ),
        (
            json!({ "contentType": "application/pdf", "url": "https://elsewhere.example/letter.pdf" }),
            "url",
        ),
    ];
    for (attachment, element) in cases {
        let (status, outcome) = feed
            .post(&transaction(vec![
                patient_entry("9990000018"),
                document_entry(attachment.clone()),
            ]))
            .await;
        assert_eq!(status, 422, "{attachment}: {outcome}");
        assert_eq!(
            issue(&outcome).1,
            format!("Bundle.entry[1].resource.content[0].attachment.{element}"),
            "{attachment}"
        );
    }
}

/// HL7's own R4 examples (npm `hl7.fhir.r4.examples`, installed in end2end/ by the test
/// command) of every resource type the feed takes, and its example Bundles: each is
/// accepted, or refused with an OperationOutcome naming the element. Never a 5xx. The
/// few definitional Bundles over 1 MB (value sets, data elements) are not clinical
/// feeds and are left out.
#[tokio::test]
async fn hl7_r4_examples_are_accepted_or_precisely_refused() {
    let feed = feed().await;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/node_modules/hl7.fhir.r4.examples");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("run `npm ci` in end2end/ (the test command does) to install hl7.fhir.r4.examples")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            [
                "Patient-",
                "Appointment-",
                "DiagnosticReport-",
                "Observation-",
                "DocumentReference-",
                "Composition-",
                "Encounter-",
                "Bundle-",
            ]
            .iter()
            .any(|t| name.starts_with(t))
                && std::fs::metadata(p).unwrap().len() <= 1_000_000
        })
        .collect();
    files.sort();
    assert!(files.len() > 100, "{} examples", files.len());
    let (mut accepted, mut refused) = (0, 0);
    for file in &files {
        let resource: Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let (path, body) = match (resource["resourceType"].as_str(), resource["type"].as_str()) {
            (Some("Bundle"), Some("document")) => ("/fhir/Bundle", resource.to_string()),
            (Some("Bundle"), _) => ("/fhir", resource.to_string()),
            _ => (
                "/fhir",
                transaction(vec![
                    json!({ "fullUrl": "urn:uuid:example", "resource": resource }),
                ]),
            ),
        };
        let (status, answer) = feed.post_to(path, &body).await;
        assert!(status < 500, "{}: {status} {answer}", file.display());
        if status >= 400 {
            refused += 1;
            assert_eq!(
                answer["resourceType"],
                "OperationOutcome",
                "{}",
                file.display()
            );
            let has_expression = answer["issue"][0]["expression"][0]
                .as_str()
                .is_some_and(|e| !e.is_empty());
            assert!(
                has_expression || status == 401,
                "{}: {answer}",
                file.display()
            );
        } else {
            accepted += 1;
        }
    }
    eprintln!(
        "HL7 R4 examples: {} sent, {accepted} accepted, {refused} refused precisely",
        files.len()
    );
}

#[tokio::test]
async fn a_sender_can_release_hold_or_retract_a_report_with_a_meta_tag() {
    use app::records::ReleaseDirective;

    let feed = feed().await;
    let report = |id: &str, code: &str| {
        json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": {
            "resourceType": "DiagnosticReport",
            "meta": { "tag": [{ "system": "urn:x-health-record-portal:release-directive", "code": code }] },
            "identifier": [{ "system": "https://lab.rxx.example/id", "value": id }],
            "status": "final",
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD" }] }],
            "code": { "text": "Chest X-ray" },
            "subject": { "reference": "urn:uuid:p1" },
            "issued": "2026-11-20T10:00:00Z"
        }})
    };
    let (status, _) = feed
        .post(&transaction(vec![
            patient_entry("9990000018"),
            report("r1", "release-now"),
            report("r2", "hold"),
            report("r3", "retract"),
        ]))
        .await;
    assert_eq!(status, 200);
    let nhs = app::domain::NhsNumber::parse("9990000018").unwrap();
    let patient = feed
        .server
        .storage
        .find_patient_by_nhs_number(&nhs)
        .await
        .unwrap()
        .unwrap();
    let mut directives: Vec<ReleaseDirective> =
        support::stored_items(feed.server.storage.as_ref(), patient.id)
            .await
            .into_iter()
            .map(|i| i.release_directive)
            .collect();
    directives.sort_by_key(|d| d.code());
    assert_eq!(
        directives,
        [
            ReleaseDirective::Hold,
            ReleaseDirective::ReleaseNow,
            ReleaseDirective::Retract
        ]
    );

    // And the feed answers unsupported methods with an OperationOutcome too.
    let response = feed
        .client
        .delete(feed.server.url("/fhir/Observation/x"))
        .bearer_auth(&feed.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
}
