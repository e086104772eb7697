//! A hostile or careless sender: results, documents and sensitive items delivered through
//! the real feed in every legal shape (`POST /fhir` with transaction and batch bundles,
//! conditional `PUT /fhir/{type}?identifier=system|value`), in awkward orders (results
//! before their report, a result amended and re-sent alone, labels that arrive later),
//! and then everything the patient can reach on the real server: every record page, every
//! record server function, and every letter, result, test history and attached document
//! found by following the links the pages give (plus every item id the feed handed back).
//! What must stay withheld (a held or embargoed result's values, conclusion and report
//! text; a held document's description and PDF) must not appear in any answer, though a
//! withheld result's name still shows that it exists. What must be left out altogether
//! (sexual health items) leaves no trace at all: no title, no value, and not even the
//! name of the organisation whose only items they are. Each case has its own server and
//! its own marker strings, so a failure names the case, the marker and the path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeSet, VecDeque};

use chrono::Duration;
use serde_json::{Value, json};

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::storage::NewOrganisation;
use server::credentials::new_credential;
use support::browser::{Browser, absolute, hidden_fields};
use support::{TestServer, test_now};

/// The patient: the NHS login simulator signs Amelia in at P9 with this number.
const AMELIA: &str = server::demo::AMELIA;

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const RELEASE_DIRECTIVE: &str = "urn:x-health-record-portal:release-directive";

/// The hospital that sends results which must be withheld (not a demo organisation).
const HOSPITAL: (&str, &str) = ("RHX01", "Westmoor Hospitals NHS Trust");
/// A sexual health service that sends only items the portal leaves out: neither its
/// name nor its code may appear anywhere the patient looks.
const CLINIC: (&str, &str) = ("RSH42", "Hollybank Sexual Health Service");

// --- The portal and its feed -------------------------------------------------------

struct Portal {
    server: TestServer,
    client: reqwest::Client,
}

/// A sending organisation and its feed credential.
struct Source {
    ods: &'static str,
    token: String,
}

/// A fresh demo server (its own database, demo data, the NHS login simulator): Amelia
/// already has records from the demo organisations, among which nothing hidden may
/// show either.
async fn portal() -> Portal {
    Portal {
        server: support::spawn_demo().await,
        client: support::http_client(),
    }
}

impl Portal {
    /// Registers an organisation and returns its credential.
    async fn source(&self, (ods, name): (&'static str, &'static str)) -> Source {
        let (token, credential_hash) = new_credential();
        self.server
            .storage
            .create_organisation(NewOrganisation {
                ods_code: OdsCode::parse(ods).unwrap(),
                name: name.to_owned(),
                kind: if ods == HOSPITAL.0 {
                    OrganisationKind::HospitalTrust
                } else {
                    OrganisationKind::CommunityService
                },
                credential_hash,
                at: test_now(),
            })
            .await
            .unwrap();
        Source { ods, token }
    }

    /// Posts a transaction or batch bundle to `POST /fhir`; every entry must be taken in
    /// (200 or 201: a refused or held entry means the test sent something broken).
    /// Returns the public id of each entry's item (`None` for a Patient).
    async fn post(&self, source: &Source, bundle: &Value, what: &str) -> Vec<Option<String>> {
        let (status, _, answer) = support::feed_answer(
            self.client.post(self.server.url("/fhir")),
            &source.token,
            bundle.to_string(),
        )
        .await;
        assert_eq!(status, 200, "{what}: the feed refused the bundle: {answer}");
        let entries = answer["entry"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no entries in the answer: {answer}"));
        assert_eq!(
            entries.len(),
            bundle["entry"].as_array().unwrap().len(),
            "{what}: one answer per entry: {answer}"
        );
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let line = entry["response"]["status"].as_str().unwrap_or_default();
                assert!(
                    line == "200 OK" || line == "201 Created",
                    "{what}: entry {index} was not taken in ({line}): {entry}"
                );
                // `{public id}/_history/{version}`
                entry["response"]["location"]
                    .as_str()
                    .map(|l| l.split('/').next().unwrap().to_owned())
            })
            .collect()
    }

    /// Sends one resource by conditional update, keyed on its first identifier; it must
    /// be taken in (200 or 201). Returns its item's public id.
    async fn put(&self, source: &Source, resource: &Value, what: &str) -> String {
        let resource_type = resource["resourceType"].as_str().unwrap();
        let system = resource["identifier"][0]["system"].as_str().unwrap();
        let value = resource["identifier"][0]["value"].as_str().unwrap();
        let (status, location, answer) = support::feed_answer(
            self.client.put(self.server.url(&format!(
                "/fhir/{resource_type}?identifier={system}|{value}"
            ))),
            &source.token,
            resource.to_string(),
        )
        .await;
        assert!(
            status == 200 || status == 201,
            "{what}: the conditional update answered {status}: {answer}"
        );
        // `{type}/{public id}/_history/{version}`
        location
            .as_deref()
            .and_then(|l| l.split('/').nth(1))
            .unwrap_or_else(|| panic!("{what}: no Location in the answer"))
            .to_owned()
    }
}

// --- FHIR building ------------------------------------------------------------------

/// A FHIR instant `days` from the tests' "now" (negative: in the past).
fn time(days: i64) -> String {
    (test_now() + Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// Amelia, by a logical reference (her NHS number), as a batch or a lone PUT must.
fn amelia() -> Value {
    json!({ "identifier": { "system": NHS_SYSTEM, "value": AMELIA } })
}

fn performed_by(source: &Source) -> Value {
    json!([{ "identifier": { "system": ODS_SYSTEM, "value": source.ods } }])
}

fn identifier(source: &Source, value: &str) -> Value {
    json!([{ "system": format!("https://lab.{}.example/id", source.ods.to_ascii_lowercase()), "value": value }])
}

fn section(code: &str) -> Value {
    json!([{ "coding": [{ "system": V2_0074, "code": code }] }])
}

fn laboratory() -> Value {
    json!([{ "coding": [{ "system": OBSERVATION_CATEGORY, "code": "laboratory" }] }])
}

fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }], "text": display })
}

/// A bundle entry, with the `request` a transaction or batch entry carries.
fn entry(full_url: Option<&str>, resource: Value) -> Value {
    let resource_type = resource["resourceType"].as_str().unwrap().to_owned();
    let system = resource["identifier"][0]["system"]
        .as_str()
        .unwrap()
        .to_owned();
    let value = resource["identifier"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut entry = json!({
        "resource": resource,
        "request": { "method": "PUT", "url": format!("{resource_type}?identifier={system}|{value}") }
    });
    if let Some(url) = full_url {
        entry["fullUrl"] = json!(url);
    }
    entry
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// --- The patient's side -------------------------------------------------------------

/// Signs Amelia in through the NHS login simulator and returns her browser.
async fn signed_in_as_amelia(server: &TestServer) -> Browser {
    let mut browser = Browser::new(&server.url(""));
    let start = browser.get(&server.url("/auth/login")).await;
    let authorize_url = start.location();
    assert!(
        !authorize_url.is_empty(),
        "sign-in starts with a redirect to NHS login: {}",
        start.status
    );
    let page = browser.get(&authorize_url).await;
    let mut fields = hidden_fields(&page.body);
    fields.push(("person".into(), "amelia".into()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let decision = browser
        .post_form(&absolute(&authorize_url, "authorize"), &fields)
        .await;
    let hops = browser.follow(&decision.location()).await;
    assert_eq!(
        (hops[0].status.as_u16(), hops[0].location()),
        (303, "/record".to_owned()),
        "Amelia signed in and was sent to her record"
    );
    browser
}

/// The record's list pages and list server functions: the crawl starts here, and each
/// must answer 200 (which also proves the sign-in worked).
const LISTS: [&str; 8] = [
    "/record",
    "/record/appointments",
    "/record/letters",
    "/record/results",
    "/api/record/summary",
    "/api/record/appointments",
    "/api/record/letters",
    "/api/record/results",
];

/// One answer the patient got.
struct Answer {
    path: String,
    status: u16,
    body: String,
}

/// Every `href` in a page, unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|chunk| chunk.split_once('"').map(|(href, _)| href))
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

/// A link to a record page, as a path and query on this server; `None` for anything
/// else (other sites, fragments, sign-out, the public pages).
fn record_link(href: &str) -> Option<String> {
    if href.starts_with('#') {
        return None;
    }
    let url = url::Url::parse(&absolute("http://portal.test/record", href)).ok()?;
    if url.host_str() != Some("portal.test") || !url.path().starts_with("/record") {
        return None;
    }
    Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    })
}

/// A record page and the server function that serves the same data, where it has one.
fn with_server_function(path: &str) -> Vec<String> {
    let mut paths = vec![path.to_owned()];
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["record", "letters", id] => paths.push(format!("/api/record/letter?id={id}")),
        ["record", "results", id] => paths.push(format!("/api/record/result?id={id}")),
        ["record", "history"] => paths.push(format!("/api/record/history?{query}")),
        _ => {}
    }
    paths
}

/// Everything the signed-in patient can reach, crawled: the list pages and functions,
/// every `/record…` link any page gives (letters, results, histories, attachments,
/// downloads, filters), each letter and result through its server function too, and
/// besides: the item ids the feed handed back (as letters and as results, pages and
/// functions), the histories of the test codes sent, and any `extra` paths.
async fn everything_amelia_sees(
    portal: &Portal,
    amelia: &mut Browser,
    ids: &[String],
    codes: &[&str],
    extra: &[String],
) -> Vec<Answer> {
    let mut queue: VecDeque<String> = LISTS.iter().map(|p| (*p).to_owned()).collect();
    for id in ids {
        for page in [
            format!("/record/letters/{id}"),
            format!("/record/results/{id}"),
        ] {
            queue.extend(with_server_function(&page));
        }
    }
    for code in codes {
        queue.extend(with_server_function(&format!(
            "/record/history?code={code}"
        )));
    }
    queue.extend(extra.iter().cloned());
    let mut seen = BTreeSet::new();
    let mut answers = Vec::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        assert!(seen.len() < 400, "the crawl does not end: {seen:?}");
        let page = amelia.get(&portal.server.url(&path)).await;
        if path.starts_with("/record") {
            for link in hrefs(&page.body).iter().filter_map(|h| record_link(h)) {
                queue.extend(with_server_function(&link));
            }
        }
        answers.push(Answer {
            path,
            status: page.status.as_u16(),
            body: page.body,
        });
    }
    eprintln!(
        "Amelia's view, {} answers: {}",
        answers.len(),
        answers
            .iter()
            .map(|a| format!("{} {}", a.status, a.path))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for list in LISTS {
        let answer = answers.iter().find(|a| a.path == list).unwrap();
        assert_eq!(
            answer.status, 200,
            "signed in as Amelia, {list} answered {}",
            answer.status
        );
    }
    answers
}

/// How many things the patient is told about: results, letters, results waiting, new
/// items since the last visit and sources, read from the record's server functions. A
/// hidden item must change none of them.
async fn counts(portal: &Portal, amelia: &mut Browser) -> [usize; 5] {
    let mut read = Vec::new();
    for path in [
        "/api/record/results",
        "/api/record/letters",
        "/api/record/summary",
    ] {
        let page = amelia.get(&portal.server.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        read.push(serde_json::from_str::<Value>(&page.body).unwrap());
    }
    let length = |value: &Value| value.as_array().map(Vec::len).unwrap_or(usize::MAX);
    [
        length(&read[0]["entries"]),
        length(&read[1]["entries"]),
        length(&read[2]["awaiting"]),
        length(&read[2]["new_items"]),
        length(&read[2]["sources"]),
    ]
}

/// A little of the body around a leak, for the failure message.
fn around(body: &str, at: usize, len: usize) -> String {
    let mut start = at.saturating_sub(100);
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 100).min(body.len());
    while !body.is_char_boundary(end) {
        end += 1;
    }
    body[start..end].replace('\n', " ")
}

/// Fails, listing every path and marker, if any answer contains any secret.
fn assert_no_trace(case: &str, answers: &[Answer], secrets: &[&str]) {
    let mut leaks = Vec::new();
    for answer in answers {
        for secret in secrets {
            if let Some(at) = answer.body.find(secret) {
                leaks.push(format!(
                    "  {secret:?} through {} (HTTP {}): …{}…",
                    answer.path,
                    answer.status,
                    around(&answer.body, at, secret.len())
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{case}: the patient was shown what must be kept from her ({} answers checked):\n{}",
        answers.len(),
        leaks.join("\n")
    );
}

/// A withheld or held result still shows that it exists: its name is on the results
/// list.
fn assert_listed(case: &str, answers: &[Answer], title: &str) {
    let results = answers
        .iter()
        .find(|a| a.path == "/record/results")
        .unwrap();
    assert!(
        results.body.contains(title),
        "{case}: /record/results should still show that {title:?} exists"
    );
}

/// The crawl is only as good as its link scraper: it must find every record link a page
/// gives (entities unescaped, queries kept) and nothing that leaves the record.
#[test]
fn the_crawl_follows_every_record_link_and_its_server_function() {
    let html = r##"<a href="/record/results/r1">A</a> <a class="x" href="/record/history?code=718-7&amp;from=1">B</a>
        <a href="/record/letters/l1/attachments/ff?download=1" rel="external">C</a>
        <a href="https://elsewhere.example/record">D</a> <a href="/about">E</a> <a href="#maincontent">F</a>"##;
    let links: Vec<String> = hrefs(html).iter().filter_map(|h| record_link(h)).collect();
    assert_eq!(
        links,
        [
            "/record/results/r1",
            "/record/history?code=718-7&from=1",
            "/record/letters/l1/attachments/ff?download=1",
        ]
    );
    assert_eq!(
        with_server_function("/record/results/r1"),
        ["/record/results/r1", "/api/record/result?id=r1"]
    );
    assert_eq!(
        with_server_function("/record/letters/l1"),
        ["/record/letters/l1", "/api/record/letter?id=l1"]
    );
    assert_eq!(
        with_server_function("/record/history?code=718-7"),
        [
            "/record/history?code=718-7",
            "/api/record/history?code=718-7"
        ]
    );
    assert_eq!(
        with_server_function("/record/letters/l1/attachments/ff"),
        ["/record/letters/l1/attachments/ff"]
    );
}

fn ids(sent: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    sent.into_iter().flatten().collect()
}

// --- 1. Histopathology in a batch, and results before their report -------------------

fn histology_report(source: &Source, id: &str, request: &str, result: &str, marker: &str) -> Value {
    json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "identifier": identifier(source, id),
        "basedOn": [{ "reference": format!("ServiceRequest/{request}") }],
        "status": "final",
        "category": section("SP"),
        "code": concept(SNOMED, "104157003", "Histopathology of skin biopsy"),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-1),
        "performer": performed_by(source),
        "result": [{ "reference": format!("Observation/{result}") }],
        "conclusion": format!("{marker}-CONCLUSION"),
    })
}

fn histology_result(source: &Source, id: &str, request: &str, marker: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "identifier": identifier(source, id),
        "basedOn": [{ "reference": format!("ServiceRequest/{request}") }],
        "status": "final",
        "category": laboratory(),
        "code": concept(LOINC, "22637-3", &format!("{marker}-RESULT-NAME")),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-1),
        "performer": performed_by(source),
        "valueString": format!("{marker}-VALUE"),
    })
}

#[tokio::test]
async fn a_histopathology_result_sent_in_a_batch_beside_its_report_never_shows_its_value() {
    let case = "histopathology report and result in a batch";
    let marker = "HOSTILE-MARKER-BATCH";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let sent = portal
        .post(
            &hospital,
            &bundle(
                "batch",
                vec![
                    entry(
                        None,
                        histology_report(
                            &hospital,
                            "hist-report-1",
                            "hist-request-1",
                            "hist-obs-1",
                            marker,
                        ),
                    ),
                    entry(
                        None,
                        histology_result(&hospital, "hist-obs-1", "hist-request-1", marker),
                    ),
                ],
            ),
            case,
        )
        .await;

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &ids(sent), &["22637-3"], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-BATCH-VALUE",
            "HOSTILE-MARKER-BATCH-CONCLUSION",
            "HOSTILE-MARKER-BATCH-RESULT-NAME",
        ],
    );
    assert_listed(case, &seen, "Histopathology of skin biopsy");
}

#[tokio::test]
async fn a_histopathology_result_put_before_its_report_never_shows_its_value() {
    let case = "histopathology result PUT before its report";
    let marker = "HOSTILE-MARKER-RESULT-FIRST";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    // The result arrives first, on its own, pointing at the order (ServiceRequest) it
    // answers; the report that lists it, for the same order, comes afterwards.
    let result = portal
        .put(
            &hospital,
            &histology_result(&hospital, "hist-obs-2", "hist-request-2", marker),
            "the result, first",
        )
        .await;
    let report = portal
        .put(
            &hospital,
            &histology_report(
                &hospital,
                "hist-report-2",
                "hist-request-2",
                "hist-obs-2",
                marker,
            ),
            "the report, afterwards",
        )
        .await;

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen =
        everything_amelia_sees(&portal, &mut amelia, &[result, report], &["22637-3"], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-RESULT-FIRST-VALUE",
            "HOSTILE-MARKER-RESULT-FIRST-CONCLUSION",
            "HOSTILE-MARKER-RESULT-FIRST-RESULT-NAME",
        ],
    );
    assert_listed(case, &seen, "Histopathology of skin biopsy");
}

// --- 2. A held report whose result is amended and re-sent alone ----------------------

#[tokio::test]
async fn a_held_report_stays_closed_when_its_result_is_amended_and_resent_alone() {
    let case = "held report, result amended and re-sent alone";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let result = |status: &str, value: &str| {
        json!({
            "resourceType": "Observation",
            "identifier": identifier(&hospital, "held-obs-1"),
            "status": status,
            "category": laboratory(),
            "code": concept(LOINC, "1742-6", "HOSTILE-MARKER-HOLD-RESULT-NAME"),
            "subject": amelia(),
            "effectiveDateTime": time(-2),
            "issued": time(-1),
            "performer": performed_by(&hospital),
            "valueString": value,
        })
    };
    let report = json!({
        "resourceType": "DiagnosticReport",
        "meta": { "tag": [{ "system": RELEASE_DIRECTIVE, "code": "hold" }] },
        "identifier": identifier(&hospital, "held-report-1"),
        "status": "final",
        "category": section("LAB"),
        "code": concept(SNOMED, "26958001", "Liver function tests"),
        "subject": amelia(),
        "effectiveDateTime": time(-2),
        "issued": time(-1),
        "performer": performed_by(&hospital),
        "result": [{ "reference": "urn:uuid:held-obs-1" }],
        "conclusion": "HOSTILE-MARKER-HOLD-CONCLUSION",
    });
    let mut sent = ids(portal
        .post(
            &hospital,
            &bundle(
                "transaction",
                vec![
                    entry(Some("urn:uuid:held-report-1"), report),
                    entry(
                        Some("urn:uuid:held-obs-1"),
                        result("final", "HOSTILE-MARKER-HOLD-ORIGINAL-VALUE"),
                    ),
                ],
            ),
            case,
        )
        .await);
    let secrets = [
        "HOSTILE-MARKER-HOLD-ORIGINAL-VALUE",
        "HOSTILE-MARKER-HOLD-AMENDED-VALUE",
        "HOSTILE-MARKER-HOLD-CONCLUSION",
        "HOSTILE-MARKER-HOLD-RESULT-NAME",
    ];
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["1742-6"], &[]).await;
    assert_no_trace(&format!("{case} (before the amendment)"), &seen, &secrets);
    assert_listed(case, &seen, "Liver function tests");

    // The lab corrects the value and re-sends the observation alone, without the hold
    // (which it put on the report) and without the report.
    sent.push(
        portal
            .put(
                &hospital,
                &result("amended", "HOSTILE-MARKER-HOLD-AMENDED-VALUE"),
                "the amended result, alone",
            )
            .await,
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["1742-6"], &[]).await;
    assert_no_trace(&format!("{case} (after the amendment)"), &seen, &secrets);
    assert_listed(case, &seen, "Liver function tests");
}

// --- 3. CT reports whose category is missing or not in v2-0074 -----------------------

fn ct_report(
    source: &Source,
    id: &str,
    category: Option<Value>,
    code: Value,
    marker: &str,
) -> Value {
    let text = format!("CT head without contrast.\n\n{marker}-REPORT-TEXT\n");
    let mut report = json!({
        "resourceType": "DiagnosticReport",
        "identifier": identifier(source, id),
        "status": "final",
        "code": code,
        "subject": amelia(),
        "effectiveDateTime": time(-2),
        "issued": time(-1),
        "performer": performed_by(source),
        "conclusion": format!("{marker}-CONCLUSION"),
        "presentedForm": [{ "contentType": "text/plain", "data": base64(text.as_bytes()), "title": "CT report" }],
    });
    if let Some(category) = category {
        report["category"] = category;
    }
    report
}

#[tokio::test]
async fn a_ct_report_sent_without_a_category_keeps_its_text_back() {
    let case = "CT report without a category, issued yesterday";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let report = ct_report(
        &hospital,
        "ct-1",
        None,
        concept(SNOMED, "408754009", "CT of head"),
        "HOSTILE-MARKER-CT-UNCATEGORISED",
    );
    let sent = portal
        .post(
            &hospital,
            &bundle("transaction", vec![entry(Some("urn:uuid:ct-1"), report)]),
            case,
        )
        .await;

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &ids(sent), &[], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-CT-UNCATEGORISED-CONCLUSION",
            "HOSTILE-MARKER-CT-UNCATEGORISED-REPORT-TEXT",
        ],
    );
    assert_listed(case, &seen, "CT of head");
}

#[tokio::test]
async fn a_ct_report_with_a_loinc_category_keeps_its_text_back() {
    let case = "CT report with LOINC category LP29684-5, issued yesterday";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let report = ct_report(
        &hospital,
        "ct-2",
        Some(
            json!([{ "coding": [{ "system": LOINC, "code": "LP29684-5", "display": "Radiology" }] }]),
        ),
        concept(LOINC, "24725-4", "CT Head"),
        "HOSTILE-MARKER-CT-LOINC",
    );
    let id = portal.put(&hospital, &report, case).await;

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &[id], &[], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-CT-LOINC-CONCLUSION",
            "HOSTILE-MARKER-CT-LOINC-REPORT-TEXT",
        ],
    );
    assert_listed(case, &seen, "CT Head");
}

// --- 4. A held document --------------------------------------------------------------

#[tokio::test]
async fn a_held_histopathology_document_shows_neither_its_description_nor_its_pdf() {
    use sha2::Digest as _;
    let case = "histopathology document tagged hold";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let pdf = server::demo::simple_pdf("HOSTILE-MARKER-HELD-DOCUMENT-PDF-TEXT", &[]);
    let sha256 = hex::encode(sha2::Sha256::digest(&pdf));
    let document = json!({
        "resourceType": "DocumentReference",
        "meta": { "tag": [{ "system": RELEASE_DIRECTIVE, "code": "hold" }] },
        "masterIdentifier": { "system": "https://docs.rhx01.example/document", "value": "hist-doc-1" },
        "identifier": identifier(&hospital, "hist-doc-1"),
        "status": "current",
        "docStatus": "final",
        "type": concept(SNOMED, "371528001", "Pathology report"),
        "subject": amelia(),
        "date": time(-1234),
        "author": performed_by(&hospital),
        "custodian": { "identifier": { "system": ODS_SYSTEM, "value": hospital.ods } },
        "description": "HOSTILE-MARKER-HELD-DOCUMENT-DESCRIPTION",
        "content": [{ "attachment": {
            "contentType": "application/pdf",
            "title": "HOSTILE-MARKER-HELD-DOCUMENT-FILE.pdf",
            "size": pdf.len(),
            "data": base64(&pdf),
        } }],
    });
    let sent = portal
        .post(
            &hospital,
            &bundle(
                "transaction",
                vec![entry(Some("urn:uuid:hist-doc-1"), document)],
            ),
            case,
        )
        .await;
    let document_id = sent[0].clone().unwrap();
    let attachment = format!("/record/letters/{document_id}/attachments/{sha256}");

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let downloads = [attachment.clone(), format!("{attachment}?download=1")];
    let seen = everything_amelia_sees(&portal, &mut amelia, &[document_id], &[], &downloads).await;
    // Its own date is part of what it says: it is dated by its arrival until released.
    let own_date = app::components::format::date(test_now() - Duration::days(1234));
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-HELD-DOCUMENT-DESCRIPTION",
            "HOSTILE-MARKER-HELD-DOCUMENT-PDF-TEXT",
            "HOSTILE-MARKER-HELD-DOCUMENT-FILE",
            own_date.as_str(),
        ],
    );
    for path in &downloads {
        let answer = seen.iter().find(|a| a.path == *path).unwrap();
        assert_eq!(
            answer.status, 404,
            "{case}: the held document's PDF (its SHA-256 as sent) is served at {path}"
        );
    }
}

/// The PDF of a CT report, with a type nobody mapped, sent before the report itself and
/// naming it only by identifier: it waits for its report, then waits with it.
#[tokio::test]
async fn a_report_pdf_sent_before_its_report_waits_for_it_and_then_with_it() {
    use sha2::Digest as _;
    let case = "a CT report's PDF sent before the report";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let pdf = server::demo::simple_pdf("HOSTILE-MARKER-EARLY-PDF-TEXT", &[]);
    let sha256 = hex::encode(sha2::Sha256::digest(&pdf));
    let document = json!({
        "resourceType": "DocumentReference",
        "identifier": identifier(&hospital, "ct-pdf-1"),
        "status": "current",
        "type": concept("https://docs.rhx01.example/types", "IMG-PDF", "Scan report"),
        "subject": amelia(),
        "date": time(-1),
        "author": performed_by(&hospital),
        "description": "HOSTILE-MARKER-EARLY-PDF-DESCRIPTION",
        "context": { "related": [{ "identifier": identifier(&hospital, "ct-early-1")[0].clone() }] },
        "content": [{ "attachment": {
            "contentType": "application/pdf",
            "title": "HOSTILE-MARKER-EARLY-PDF-FILE.pdf",
            "size": pdf.len(),
            "data": base64(&pdf),
        } }],
    });
    let document_id = portal.put(&hospital, &document, case).await;
    let attachment = format!("/record/letters/{document_id}/attachments/{sha256}");
    let downloads = [attachment.clone(), format!("{attachment}?download=1")];
    let secrets = [
        "HOSTILE-MARKER-EARLY-PDF-DESCRIPTION",
        "HOSTILE-MARKER-EARLY-PDF-TEXT",
        "HOSTILE-MARKER-EARLY-PDF-FILE",
        "HOSTILE-MARKER-EARLY-CT-CONCLUSION",
        "HOSTILE-MARKER-EARLY-CT-REPORT-TEXT",
    ];
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(
        &portal,
        &mut amelia,
        std::slice::from_ref(&document_id),
        &[],
        &downloads,
    )
    .await;
    assert_no_trace(&format!("{case} (before the report)"), &seen, &secrets);

    // The CT report arrives: withheld for 28 days, and its PDF with it.
    let report = ct_report(
        &hospital,
        "ct-early-1",
        Some(section("CT")),
        concept(SNOMED, "169069000", "CT of head"),
        "HOSTILE-MARKER-EARLY-CT",
    );
    let report_id = portal.put(&hospital, &report, "the CT report").await;
    let seen = everything_amelia_sees(
        &portal,
        &mut amelia,
        &[document_id, report_id],
        &[],
        &downloads,
    )
    .await;
    assert_no_trace(&format!("{case} (with its report)"), &seen, &secrets);
    assert_listed(case, &seen, "CT of head");
    for path in &downloads {
        let answer = seen.iter().find(|a| a.path == *path).unwrap();
        assert_eq!(answer.status, 404, "{case}: the PDF is served at {path}");
    }
}

// --- 5. Sexual health: batches, amendments and labels that come later -----------------

/// A report that says nothing sensitive in its own codes.
fn screen_report(source: &Source, id: &str, result: &str, marker: &str) -> Value {
    json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "identifier": identifier(source, id),
        "status": "final",
        "category": section("LAB"),
        "code": concept(
            &format!("https://lab.{}.example/CodeSystem/tests", source.ods.to_ascii_lowercase()),
            "SCREEN",
            &format!("{marker}-REPORT-TITLE"),
        ),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-2),
        "performer": performed_by(source),
        "result": [{ "reference": result }],
        "conclusion": format!("{marker}-CONCLUSION"),
    })
}

/// A result coded LOINC 21613-5 (Chlamydia trachomatis DNA), on the code list.
fn chlamydia_result(source: &Source, id: &str, marker: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "identifier": identifier(source, id),
        "status": "final",
        "category": laboratory(),
        "code": concept(LOINC, "21613-5", &format!("{marker}-RESULT-NAME")),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-2),
        "performer": performed_by(source),
        "valueString": format!("{marker}-VALUE"),
    })
}

#[tokio::test]
async fn a_sexual_health_report_and_result_sent_as_a_batch_leave_no_trace() {
    let case = "sexual health report and result in a batch";
    let marker = "HOSTILE-MARKER-SH-BATCH";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let before = counts(&portal, &mut amelia).await;
    // Only the result carries the sensitive code; in a batch each entry stands alone.
    let sent = portal
        .post(
            &clinic,
            &bundle(
                "batch",
                vec![
                    entry(
                        None,
                        screen_report(&clinic, "shs-1", "Observation/shs-obs-1", marker),
                    ),
                    entry(None, chlamydia_result(&clinic, "shs-obs-1", marker)),
                ],
            ),
            case,
        )
        .await;

    assert_eq!(
        counts(&portal, &mut amelia).await,
        before,
        "{case}: not counted anywhere"
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &ids(sent), &["21613-5"], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-SH-BATCH-REPORT-TITLE",
            "HOSTILE-MARKER-SH-BATCH-CONCLUSION",
            "HOSTILE-MARKER-SH-BATCH-RESULT-NAME",
            "HOSTILE-MARKER-SH-BATCH-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );
}

/// Amelia's NHS number with its check digit mistyped: a resource carrying it is held.
const AMELIA_MISTYPED: &str = "9990000019";

#[tokio::test]
async fn a_held_sexual_health_result_matched_by_the_desk_leaves_no_trace_nor_a_log_line() {
    let case = "held sexual health result matched by the desk";
    let marker = "HOSTILE-MARKER-SH-HELD";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let before = counts(&portal, &mut amelia).await;
    let log_before = amelia.get(&portal.server.url("/account/access-log")).await;
    assert_eq!(log_before.status, 200);
    let amelia_id = portal
        .server
        .storage
        .find_patient_by_nhs_number(&app::domain::NhsNumber::parse(AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let stored_before: Vec<String> =
        support::stored_items(portal.server.storage.as_ref(), amelia_id)
            .await
            .into_iter()
            .map(|item| item.public_id)
            .collect();

    // Her chlamydia result, sent with her number mistyped: held for the desk.
    let mut result = chlamydia_result(&clinic, "shs-held-1", marker);
    result["subject"] = json!({ "identifier": { "system": NHS_SYSTEM, "value": AMELIA_MISTYPED } });
    let (status, _, answer) = support::feed_answer(
        portal.client.post(portal.server.url("/fhir")),
        &clinic.token,
        bundle("batch", vec![entry(None, result)]).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{case}: {answer}");
    assert_eq!(
        answer["entry"][0]["response"]["status"], "202 Accepted",
        "{case}: held"
    );
    let held = portal
        .server
        .storage
        .list_held_resources(10)
        .await
        .unwrap()
        .into_iter()
        .find(|held| held.raw_resource.contains(marker))
        .expect("the result is held");

    // The desk matches it to her, on the clinic's word.
    let mut desk = support::signed_in_staff(&portal.server, "jordan").await;
    let path = format!("/staff/held-items/{}", held.public_id);
    let matched = support::people::post(
        &mut desk,
        &portal.server,
        &path,
        &path,
        &[
            ("resolution", "match"),
            ("nhs-number", AMELIA),
            ("birth-date-day", "12"),
            ("birth-date-month", "6"),
            ("birth-date-year", "1984"),
            (
                "reason",
                "NHS number mistyped; confirmed with the clinic by phone",
            ),
            ("confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(
        (matched.status.as_u16(), matched.location()),
        (303, "/staff/held-items".to_owned()),
        "{case}: {}",
        matched.body
    );
    let added: Vec<String> = support::stored_items(portal.server.storage.as_ref(), amelia_id)
        .await
        .into_iter()
        .map(|item| item.public_id)
        .filter(|id| !stored_before.contains(id))
        .collect();
    assert_eq!(added.len(), 1, "{case}: the result is stored on her record");

    // The desk's match is on her trail, as every access by someone else is, under the
    // action her log leaves out.
    let trail = portal
        .server
        .storage
        .list_audit_events(amelia_id, 200)
        .await
        .unwrap();
    assert!(
        trail.iter().any(
            |e| e.action == app::audit::action::DESK_HELD_ITEM_MATCHED_UNSHOWN
                && e.actor_kind == app::audit::ActorKind::Staff
        ),
        "{case}: the match is audited"
    );
    assert!(
        !trail
            .iter()
            .any(|e| e.action == app::audit::action::DESK_HELD_ITEM_MATCHED),
        "{case}: not as a match the patient is told of"
    );
    let unshown = trail
        .iter()
        .find(|e| e.action == app::audit::action::DESK_HELD_ITEM_MATCHED_UNSHOWN)
        .unwrap();
    assert_eq!(
        app::audit::log::describe(unshown, false, Some("Jordan"), |_| None),
        None,
        "{case}: her log has no words for it"
    );

    // Nothing tells her: not the counts, not her log, not any page.
    assert_eq!(
        counts(&portal, &mut amelia).await,
        before,
        "{case}: not counted"
    );
    let log = amelia.get(&portal.server.url("/account/access-log")).await;
    assert_eq!(log.status, 200);
    assert!(
        !log.body.contains("could not match"),
        "{case}: no line in her access log"
    );
    let mut seen = everything_amelia_sees(&portal, &mut amelia, &added, &["21613-5"], &[]).await;
    seen.push(Answer {
        path: "/account/access-log".to_owned(),
        status: log.status.as_u16(),
        body: log.body,
    });
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-SH-HELD-RESULT-NAME",
            "HOSTILE-MARKER-SH-HELD-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );
}

#[tokio::test]
async fn a_sexual_health_report_resent_alone_as_amended_leaves_no_trace() {
    let case = "sexual health report re-sent alone as amended";
    let marker = "HOSTILE-MARKER-SH-AMENDED";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let secrets = [
        "HOSTILE-MARKER-SH-AMENDED-REPORT-TITLE",
        "HOSTILE-MARKER-SH-AMENDED-CONCLUSION",
        "HOSTILE-MARKER-SH-AMENDED-RESULT-NAME",
        "HOSTILE-MARKER-SH-AMENDED-VALUE",
        "HOSTILE-MARKER-SH-AMENDED-NEW-CONCLUSION",
        CLINIC.0,
        CLINIC.1,
    ];
    // First the report and its result together, in one transaction.
    let mut sent = ids(portal
        .post(
            &clinic,
            &bundle(
                "transaction",
                vec![
                    entry(
                        Some("urn:uuid:shs-report-2"),
                        screen_report(&clinic, "shs-2", "urn:uuid:shs-obs-2", marker),
                    ),
                    entry(
                        Some("urn:uuid:shs-obs-2"),
                        chlamydia_result(&clinic, "shs-obs-2", marker),
                    ),
                ],
            ),
            case,
        )
        .await);
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["21613-5"], &[]).await;
    assert_no_trace(&format!("{case} (first delivery)"), &seen, &secrets);

    // Then the report alone, amended: nothing sensitive in its own codes, its result
    // referred to by id.
    let mut amended = screen_report(&clinic, "shs-2", "Observation/shs-obs-2", marker);
    amended["status"] = json!("amended");
    amended["conclusion"] = json!("HOSTILE-MARKER-SH-AMENDED-NEW-CONCLUSION");
    sent.push(
        portal
            .put(&clinic, &amended, "the amended report, alone")
            .await,
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["21613-5"], &[]).await;
    assert_no_trace(&format!("{case} (after the amendment)"), &seen, &secrets);
}

#[tokio::test]
async fn a_report_labelled_sexual_health_after_it_was_shown_disappears_with_its_result() {
    let case = "report labelled STD after it was shown";
    let marker = "HOSTILE-MARKER-LATE-LABEL";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let report = || screen_report(&clinic, "late-1", "urn:uuid:late-obs-1", marker);
    let result = json!({
        "resourceType": "Observation",
        "id": "late-obs-1",
        "identifier": identifier(&clinic, "late-obs-1"),
        "status": "final",
        "category": laboratory(),
        "code": concept("https://lab.rsh42.example/CodeSystem/tests", "URINE", "HOSTILE-MARKER-LATE-LABEL-RESULT-NAME"),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-2),
        "performer": performed_by(&clinic),
        "valueString": "HOSTILE-MARKER-LATE-LABEL-VALUE",
    });
    // Sent plainly: nothing says it is sensitive, so it is shown.
    let mut sent = ids(portal
        .post(
            &clinic,
            &bundle(
                "transaction",
                vec![
                    entry(Some("urn:uuid:late-1"), report()),
                    entry(Some("urn:uuid:late-obs-1"), result),
                ],
            ),
            case,
        )
        .await);
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["URINE"], &[]).await;
    assert_listed(
        &format!("{case} (before the label: shown, as nothing said otherwise)"),
        &seen,
        "HOSTILE-MARKER-LATE-LABEL-REPORT-TITLE",
    );
    assert!(
        seen.iter()
            .any(|a| a.body.contains("HOSTILE-MARKER-LATE-LABEL-VALUE")),
        "{case}: before the label, the plain result's value is shown (the test's own setup)"
    );

    // The clinic re-sends the report, now with the sender's sexual health label.
    let mut labelled = report();
    labelled["meta"] = json!({ "security": [{ "system": ACT_CODE, "code": "STD" }] });
    labelled["result"] = json!([{ "reference": "Observation/late-obs-1" }]);
    sent.push(
        portal
            .put(&clinic, &labelled, "the report again, labelled STD")
            .await,
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["URINE"], &[]).await;
    assert_no_trace(
        &format!("{case} (after the label)"),
        &seen,
        &[
            "HOSTILE-MARKER-LATE-LABEL-REPORT-TITLE",
            "HOSTILE-MARKER-LATE-LABEL-CONCLUSION",
            "HOSTILE-MARKER-LATE-LABEL-RESULT-NAME",
            "HOSTILE-MARKER-LATE-LABEL-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );

    // A later version sent without the label (an amendment by a system that drops
    // meta.security) does not make the report reappear: a sender's label stays.
    let mut unlabelled = report();
    unlabelled["status"] = json!("amended");
    unlabelled["result"] = json!([{ "reference": "Observation/late-obs-1" }]);
    sent.push(
        portal
            .put(
                &clinic,
                &unlabelled,
                "the report amended, without the label",
            )
            .await,
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &sent, &["URINE"], &[]).await;
    assert_no_trace(
        &format!("{case} (amended without the label)"),
        &seen,
        &[
            "HOSTILE-MARKER-LATE-LABEL-REPORT-TITLE",
            "HOSTILE-MARKER-LATE-LABEL-CONCLUSION",
            "HOSTILE-MARKER-LATE-LABEL-RESULT-NAME",
            "HOSTILE-MARKER-LATE-LABEL-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );
}

// --- 6. A chlamydia test on its own ----------------------------------------------------

#[tokio::test]
async fn a_standalone_chlamydia_test_leaves_no_trace() {
    let case = "standalone observation coded LOINC 43304-5";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let observation = json!({
        "resourceType": "Observation",
        "identifier": identifier(&clinic, "ct-naat-1"),
        "status": "final",
        "category": laboratory(),
        "code": concept(LOINC, "43304-5", "HOSTILE-MARKER-CHLAMYDIA-TEST-NAME"),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-2),
        "performer": performed_by(&clinic),
        "valueString": "HOSTILE-MARKER-CHLAMYDIA-VALUE",
    });
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let before = counts(&portal, &mut amelia).await;
    let id = portal.put(&clinic, &observation, case).await;
    assert_eq!(
        counts(&portal, &mut amelia).await,
        before,
        "{case}: not counted anywhere"
    );
    let seen = everything_amelia_sees(&portal, &mut amelia, &[id], &["43304-5"], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-CHLAMYDIA-TEST-NAME",
            "HOSTILE-MARKER-CHLAMYDIA-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );
}

/// A trust adds a local code to its privacy list after items with that code arrived:
/// the start-up preparation relabels what is stored (audited, once), and from then on
/// the items leave no trace, though the sender never re-sent them.
#[tokio::test]
async fn a_code_added_to_the_privacy_list_later_hides_what_is_already_stored() {
    use app::privacy::CodeListEntry;
    let case = "a local sexual health code listed after the item arrived";
    let portal = portal().await;
    let clinic = portal.source(CLINIC).await;
    let local = "https://fhir.hollybank.example/CodeSystem/tests";
    let observation = json!({
        "resourceType": "Observation",
        "identifier": identifier(&clinic, "local-1"),
        "status": "final",
        "category": laboratory(),
        "code": concept(local, "GUM-PANEL-7", "HOSTILE-MARKER-LOCAL-CODE-NAME"),
        "subject": amelia(),
        "effectiveDateTime": time(-3),
        "issued": time(-2),
        "performer": performed_by(&clinic),
        "valueString": "HOSTILE-MARKER-LOCAL-CODE-VALUE",
    });
    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let counted_before = counts(&portal, &mut amelia).await;
    let id = portal.put(&clinic, &observation, case).await;
    let before =
        everything_amelia_sees(&portal, &mut amelia, std::slice::from_ref(&id), &[], &[]).await;
    assert_listed(case, &before, "HOSTILE-MARKER-LOCAL-CODE-NAME");

    // The trust's new list, applied the way every start-up applies it.
    let mut config = portal.server.config.clone();
    config.privacy_codes.entries.push(CodeListEntry {
        system: local.to_owned(),
        code: "GUM-PANEL-7".to_owned(),
        label: app::privacy::SEXUAL_HEALTH.to_owned(),
    });
    let clock = std::sync::Arc::new(portal.server.clock.clone());
    let _restarted = server::prepare(&config, portal.server.storage.clone(), clock.clone())
        .await
        .unwrap();
    let again = server::privacy::apply_code_list(
        portal.server.storage.as_ref(),
        &config.privacy_codes,
        test_now(),
    )
    .await
    .unwrap();
    assert_eq!(again, None, "an applied list is not applied twice");
    let relabelled = portal
        .server
        .storage
        .list_recent_audit_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == app::audit::action::PRIVACY_LABELS_REAPPLIED)
        .count();
    assert_eq!(
        relabelled, 2,
        "the list at first start-up, then the changed one"
    );

    assert_eq!(
        counts(&portal, &mut amelia).await,
        counted_before,
        "{case}: once listed, not counted anywhere"
    );
    let after = everything_amelia_sees(&portal, &mut amelia, &[id], &[], &[]).await;
    assert_no_trace(
        case,
        &after,
        &[
            "HOSTILE-MARKER-LOCAL-CODE-NAME",
            "HOSTILE-MARKER-LOCAL-CODE-VALUE",
            CLINIC.0,
            CLINIC.1,
        ],
    );
}

// --- 7. A preliminary report ---------------------------------------------------------

#[tokio::test]
async fn a_preliminary_report_shows_as_in_progress_without_its_values() {
    let case = "preliminary laboratory report";
    let portal = portal().await;
    let hospital = portal.source(HOSPITAL).await;
    let report = json!({
        "resourceType": "DiagnosticReport",
        "identifier": identifier(&hospital, "prelim-1"),
        "status": "preliminary",
        "category": section("LAB"),
        "code": concept(SNOMED, "26604007", "Full blood count"),
        "subject": amelia(),
        "effectiveDateTime": time(-1),
        "issued": time(-1),
        "performer": performed_by(&hospital),
        "result": [{ "reference": "urn:uuid:prelim-obs-1" }],
        "conclusion": "HOSTILE-MARKER-PRELIMINARY-CONCLUSION",
    });
    let result = json!({
        "resourceType": "Observation",
        "identifier": identifier(&hospital, "prelim-obs-1"),
        "status": "preliminary",
        "category": laboratory(),
        "code": concept(LOINC, "718-7", "Haemoglobin"),
        "subject": amelia(),
        "effectiveDateTime": time(-1),
        "issued": time(-1),
        "performer": performed_by(&hospital),
        "valueString": "HOSTILE-MARKER-PRELIMINARY-VALUE",
        "note": [{ "text": "HOSTILE-MARKER-PRELIMINARY-NOTE" }],
    });
    let sent = portal
        .post(
            &hospital,
            &bundle(
                "transaction",
                vec![
                    entry(Some("urn:uuid:prelim-1"), report),
                    entry(Some("urn:uuid:prelim-obs-1"), result),
                ],
            ),
            case,
        )
        .await;

    let mut amelia = signed_in_as_amelia(&portal.server).await;
    let seen = everything_amelia_sees(&portal, &mut amelia, &ids(sent), &["718-7"], &[]).await;
    assert_no_trace(
        case,
        &seen,
        &[
            "HOSTILE-MARKER-PRELIMINARY-VALUE",
            "HOSTILE-MARKER-PRELIMINARY-NOTE",
            "HOSTILE-MARKER-PRELIMINARY-CONCLUSION",
        ],
    );
    assert_listed(case, &seen, "Full blood count");
    let results = seen.iter().find(|a| a.path == "/record/results").unwrap();
    assert!(
        results.body.to_lowercase().contains("in progress"),
        "{case}: /record/results should say the report is in progress"
    );
}
