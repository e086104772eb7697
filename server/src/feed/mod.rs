//! The feed API: source organisations push FHIR R4 JSON to `/fhir`
//! (`shared/docs/fhir-feed.md`).
//!
//! Each sender authenticates with its own bearer credential (stored hashed); a missing or
//! wrong one gets 401, a right one for the wrong organisation 403. Transaction bundles
//! are applied all or nothing through the same ingest path as everything else; batch
//! bundles entry by entry, each with its own answer. Every failure answers with an
//! `OperationOutcome` (`outcome.rs`) that points at the offending element. Bodies are
//! never logged.

pub mod outcome;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use app::audit::{ActorKind, NewAuditEvent, action};
use app::domain::ods_code::ODS_SYSTEM;
use app::server::Clock;
use app::server::storage::{ItemChange, ItemKey, Organisation, Storage, StorageError};

use crate::credentials::hash_credential;
use crate::ingest::{EntryOutcome, IngestError, Sender, apply_mapped, map_bundle};

use self::outcome::{FHIR_JSON, Problem, fhir_json};

/// The largest request body accepted by default: 10 MiB (a discharge summary with a
/// scanned PDF fits; anything bigger is refused with 413 before it is read whole).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone)]
pub struct FeedState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub max_body_bytes: usize,
    /// The codes that put privacy labels on incoming items.
    pub code_list: Arc<app::privacy::CodeList>,
}

/// The feed's routes, to be nested at `/fhir`.
pub fn router(state: FeedState) -> Router {
    Router::new()
        .route("/", post(post_bundle))
        .route("/Bundle", post(post_document))
        .route("/metadata", get(metadata))
        .route("/openapi.json", get(openapi))
        .route("/{resource_type}", get(search).put(conditional_update))
        .route("/{resource_type}/{id}", get(read))
        .fallback(not_supported)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The bearer credential's organisation.
async fn authenticate(state: &FeedState, headers: &HeaderMap) -> Result<Organisation, Problem> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(Problem::unauthorised)?;
    match state
        .storage
        .find_organisation_by_credential_hash(&hash_credential(token))
        .await
    {
        Ok(Some(organisation)) => Ok(organisation),
        Ok(None) => Err(Problem::unauthorised()),
        Err(error) => Err(storage_problem(&error)),
    }
}

fn internal(cause: &dyn std::fmt::Display) -> Problem {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase();
    tracing::error!(%reference, %cause, "feed request failed");
    Problem::internal(&reference)
}

/// A storage failure as the sender hears it: 503 when the database is away for now
/// ([`StorageError::is_unavailable`]), otherwise our own fault, 500. Either way only a
/// reference, the cause logged once under it.
fn storage_problem(error: &StorageError) -> Problem {
    if !error.is_unavailable() {
        return internal(error);
    }
    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase();
    tracing::warn!(%reference, %error, "feed request refused: database unavailable");
    Problem::unavailable(&reference)
}

/// Reads the body as FHIR JSON text, within the size limit.
async fn read_body(state: &FeedState, request: Request) -> Result<String, Problem> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with(FHIR_JSON) || content_type.starts_with("application/json")) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "Send FHIR R4 JSON, with Content-Type application/fhir+json or application/json.",
        ));
    }
    let bytes = to_bytes(request.into_body(), state.max_body_bytes)
        .await
        .map_err(|error| body_problem(&*error.into_inner(), state.max_body_bytes))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "structure",
            "The body is not UTF-8 text.",
        )
    })
}

/// Why a request body could not be read, as the sender should hear it: too long, too
/// slow (`routes`' body timeout), or cut short.
fn body_problem(error: &(dyn std::error::Error + 'static), max_body_bytes: usize) -> Problem {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-long",
                format!("The request body is larger than the limit of {max_body_bytes} bytes."),
            );
        }
        if error.is::<tower_http::timeout::TimeoutError>() {
            return Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "The request body stopped arriving; nothing of it was stored. Send it again.",
            );
        }
        cause = error.source();
    }
    Problem::new(
        StatusCode::BAD_REQUEST,
        "incomplete",
        "The request body ended early; nothing of it was stored. Send it again.",
    )
}

/// The request id the tracing layer gave this request, for the audit row.
fn request_id(request: &Request) -> Option<String> {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The body as text (kept exactly, for storage) and as parsed JSON (for checks).
async fn read_json(state: &FeedState, request: Request) -> Result<(String, Value), Problem> {
    let body = read_body(state, request).await?;
    let value = serde_json::from_str(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "structure",
            format!("The body is not valid JSON: {}", plain_json_error(&e)),
        )
    })?;
    Ok((body, value))
}

async fn post_bundle(State(state): State<FeedState>, request: Request) -> Response {
    match handle_bundle(&state, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// `POST /fhir/Bundle` with a `document` Bundle (a discharge summary, a pathology
/// report): the Composition first, then what it refers to; stored all or nothing, each
/// resource as an immutable version.
async fn post_document(State(state): State<FeedState>, request: Request) -> Response {
    let result = async {
        let (sender, body, bundle) = authenticated_bundle(&state, request).await?;
        if bundle.get("type").and_then(Value::as_str) != Some("document") {
            return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "POST /Bundle takes a document Bundle; send transactions and batches to the base URL.").at("Bundle.type"));
        }
        let first = bundle.pointer("/entry/0/resource/resourceType").and_then(Value::as_str);
        if first != Some("Composition") {
            return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "The first entry of a document Bundle must be its Composition.").at("Bundle.entry[0].resource"));
        }
        transaction(&state, &sender, &body).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Authenticates the sender, reads the body and checks it is a Bundle whose records the
/// sender may write.
async fn authenticated_bundle(
    state: &FeedState,
    request: Request,
) -> Result<(Sender, String, Value), Problem> {
    let sender_org = authenticate(state, request.headers()).await?;
    let request_id = request_id(&request);
    let (body, bundle) = read_json(state, request).await?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "structure",
            "This endpoint takes a Bundle.",
        )
        .at("Bundle.resourceType"));
    }
    check_custodian(&bundle, &sender_org)?;
    let sender = Sender {
        organisation: sender_org.id,
        received_at: state.clock.now(),
        request_id,
    };
    Ok((sender, body, bundle))
}

async fn handle_bundle(state: &FeedState, request: Request) -> Result<Response, Problem> {
    let (sender, body, bundle) = authenticated_bundle(state, request).await?;
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => transaction(state, &sender, &body).await,
        Some("batch") => batch(state, &sender, &bundle).await,
        Some("document") => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-supported",
            "Send document Bundles to /fhir/Bundle.",
        )
        .at("Bundle.type")),
        Some(other) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-supported",
            format!("Bundles of type {other} are not accepted at the base URL; send a transaction or a batch."),
        )
        .at("Bundle.type")),
        None => Err(Problem::new(StatusCode::BAD_REQUEST, "required", "The bundle has no type.").at("Bundle.type")),
    }
}

/// serde_json's message, which names a line and column and never the content.
fn plain_json_error(error: &serde_json::Error) -> String {
    format!(
        "{} at line {} column {}",
        error.classify_name(),
        error.line(),
        error.column()
    )
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable input",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end of input",
        }
    }
}

async fn transaction(state: &FeedState, sender: &Sender, body: &str) -> Result<Response, Problem> {
    let mapped = map_bundle(sender, &state.code_list, body).map_err(ingest_problem)?;
    let outcomes = apply_mapped(state.storage.as_ref(), mapped)
        .await
        .map_err(ingest_problem)?;
    let entries: Vec<Value> = outcomes.iter().map(entry_response).collect();
    Ok(fhir_json(
        &json!({ "resourceType": "Bundle", "type": "transaction-response", "entry": entries }),
    ))
}

/// Each entry on its own: one entry's failure does not stop the others.
async fn batch(state: &FeedState, sender: &Sender, bundle: &Value) -> Result<Response, Problem> {
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut responses = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let single =
            json!({ "resourceType": "Bundle", "type": "batch", "entry": [entry] }).to_string();
        let result = match map_bundle(sender, &state.code_list, &single) {
            Ok(mapped) => apply_mapped(state.storage.as_ref(), mapped).await,
            Err(error) => Err(error),
        };
        responses.push(match result {
            Ok(outcomes) => match outcomes.into_iter().next() {
                // The entry was mapped alone, as entry 0: point at its place in the batch.
                Some(EntryOutcome::Held { expression, reason }) => entry_response(&EntryOutcome::Held {
                    expression: in_batch(&expression, index),
                    reason,
                }),
                Some(outcome) => entry_response(&outcome),
                None => entry_response(&EntryOutcome::Accepted),
            },
            Err(error) => {
                let problem = ingest_problem(error);
                let expression = problem.expression.as_deref().map(|e| in_batch(e, index));
                let problem = Problem { expression, ..problem };
                json!({ "response": { "status": status_line(problem.status), "outcome": problem.to_resource() } })
            }
        });
    }
    Ok(fhir_json(
        &json!({ "resourceType": "Bundle", "type": "batch-response", "entry": responses }),
    ))
}

/// An expression from an entry mapped on its own, moved to its place in the batch.
fn in_batch(expression: &str, index: usize) -> String {
    expression.replacen("Bundle.entry[0]", &format!("Bundle.entry[{index}]"), 1)
}

/// The answer for one entry: created, updated or unchanged with the version; or held
/// for the service desk because its patient could not be identified (202, with an
/// outcome saying why and where).
fn entry_response(outcome: &EntryOutcome) -> Value {
    match outcome {
        EntryOutcome::Item(outcome) => {
            let status = match outcome.change {
                ItemChange::Created => "201 Created",
                ItemChange::Updated | ItemChange::Unchanged => "200 OK",
            };
            json!({ "response": {
                "status": status,
                "location": format!("{}/_history/{}", outcome.public_id, outcome.version),
                "etag": format!("W/\"{}\"", outcome.version),
            } })
        }
        EntryOutcome::Held { expression, reason } => {
            let outcome = json!({ "resourceType": "OperationOutcome", "issue": [{
                "severity": "warning",
                "code": "not-found",
                "diagnostics": format!("Held for the service desk: {reason}. It is kept and will be matched by hand, not shown until then."),
                "expression": [expression],
            }] });
            json!({ "response": { "status": "202 Accepted", "outcome": outcome } })
        }
        EntryOutcome::Accepted => json!({ "response": { "status": "200 OK" } }),
    }
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

fn ingest_problem(error: IngestError) -> Problem {
    match error {
        IngestError::Unparseable(_) => Problem::new(
            StatusCode::BAD_REQUEST,
            "structure",
            "The bundle is not a valid FHIR JSON Bundle.",
        ),
        IngestError::Mapping(mapping) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            mapping.diagnostics,
        )
        .at(mapping.expression),
        IngestError::Storage(error) => storage_problem(&error),
    }
}

/// A sender may only write what it performed, authored or holds custody of: every
/// organisation named in those roles must be the sender itself.
fn check_custodian(bundle: &Value, sender: &Organisation) -> Result<(), Problem> {
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (index, entry) in entries.iter().enumerate() {
        let Some(resource) = entry.get("resource") else {
            continue;
        };
        for role in ["performer", "author", "custodian", "serviceProvider"] {
            let references: Vec<&Value> = match resource.get(role) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(single) => vec![single],
                None => continue,
            };
            for reference in references {
                let identifier = reference.get("identifier");
                let is_ods = identifier
                    .and_then(|i| i.get("system"))
                    .and_then(Value::as_str)
                    == Some(ODS_SYSTEM);
                let code = identifier
                    .and_then(|i| i.get("value"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if is_ods && !code.eq_ignore_ascii_case(sender.ods_code.as_str()) {
                    return Err(Problem::forbidden(format!(
                        "This credential belongs to {}; it may only send records that organisation performed, authored or holds.",
                        sender.ods_code
                    ))
                    .at(format!("Bundle.entry[{index}].resource.{role}")));
                }
            }
        }
    }
    Ok(())
}

/// The resource types the feed stores as record items (and so can read back).
const ITEM_TYPES: [&str; 6] = [
    "Appointment",
    "DocumentReference",
    "DiagnosticReport",
    "Observation",
    "Composition",
    "Encounter",
];

#[derive(Debug, serde::Deserialize)]
struct IdentifierQuery {
    identifier: Option<String>,
}

/// `system|value`, as FHIR search and conditional update write a token.
fn parse_identifier(resource_type: &str, query: &IdentifierQuery) -> Result<ItemKey, Problem> {
    let token = query.identifier.as_deref().unwrap_or_default();
    match token.split_once('|') {
        Some((system, value)) if !system.is_empty() && !value.is_empty() => Ok(ItemKey {
            resource_type: resource_type.to_owned(),
            identifier_system: system.to_owned(),
            identifier_value: value.to_owned(),
        }),
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "required",
            "Give the identifier as identifier=system|value.",
        )
        .at(format!("{resource_type}.identifier"))),
    }
}

fn check_item_type(resource_type: &str) -> Result<(), Problem> {
    if ITEM_TYPES.contains(&resource_type) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("The feed does not store {resource_type} resources."),
        ))
    }
}

/// A FHIR resource, or the problem that stopped it.
fn answer(result: Result<Value, Problem>) -> Response {
    match result {
        Ok(resource) => fhir_json(&resource),
        Err(problem) => problem.into_response(),
    }
}

/// `GET /fhir/{type}/{id}`: the sender's own resource as last stored, with its version.
async fn read(
    State(state): State<FeedState>,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let sender = authenticate(&state, &headers).await?;
        check_item_type(&resource_type)?;
        latest(
            &state,
            &sender,
            &resource_type,
            &id,
            header_request_id(&headers),
        )
        .await?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("No {resource_type} with that id was sent by this organisation."),
            )
        })
    }
    .await;
    answer(result)
}

/// The request id of a request known by its headers, for the audit row.
fn header_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The latest stored version of a sender's item as a resource with `id` and `meta`.
/// Reading it back is audited (the sender, the item), before anything is sent.
async fn latest(
    state: &FeedState,
    sender: &Organisation,
    resource_type: &str,
    id: &str,
    request_id: Option<String>,
) -> Result<Option<Value>, Problem> {
    let versions = state
        .storage
        .list_item_versions(sender.id, id)
        .await
        .map_err(|e| storage_problem(&e))?;
    let Some(version) = versions.last() else {
        return Ok(None);
    };
    let mut resource: Value =
        serde_json::from_str(&version.raw_resource).map_err(|e| internal(&e))?;
    if resource.get("resourceType").and_then(Value::as_str) != Some(resource_type) {
        return Ok(None);
    }
    resource["id"] = json!(id);
    let meta = resource
        .get("meta")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    resource["meta"] = meta;
    resource["meta"]["versionId"] = json!(version.version.to_string());
    resource["meta"]["lastUpdated"] = json!(version.received_at.to_rfc3339());
    state
        .storage
        .append_audit(NewAuditEvent {
            actor_org: Some(sender.id),
            target: Some(format!("{resource_type}/{id}")),
            request_id,
            ..NewAuditEvent::new(state.clock.now(), ActorKind::Sender, action::FEED_READ_BACK)
        })
        .await
        .map_err(|e| storage_problem(&e))?;
    Ok(Some(resource))
}

/// `GET /fhir/{type}?identifier=system|value`: a searchset of zero or one.
async fn search(
    State(state): State<FeedState>,
    Path(resource_type): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let sender = authenticate(&state, &headers).await?;
        check_item_type(&resource_type)?;
        let key = parse_identifier(&resource_type, &query)?;
        let found = match state.storage.find_item_by_key(sender.id, &key).await.map_err(|e| storage_problem(&e))? {
            Some(id) => latest(&state, &sender, &resource_type, &id, header_request_id(&headers)).await?,
            None => None,
        };
        let entries: Vec<Value> = found.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect();
        Ok::<_, Problem>(json!({ "resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries }))
    }
    .await;
    answer(result)
}

/// `PUT /fhir/{type}?identifier=system|value`: create (201) or update (200) the
/// sender's resource with that identifier. The resource's own identifier must agree.
async fn conditional_update(
    State(state): State<FeedState>,
    Path(resource_type): Path<String>,
    Query(query): Query<IdentifierQuery>,
    request: Request,
) -> Response {
    let result = async {
        let sender_org = authenticate(&state, request.headers()).await?;
        check_item_type(&resource_type)?;
        let key = parse_identifier(&resource_type, &query)?;
        let request_id = request_id(&request);
        let (body, resource) = read_json(&state, request).await?;
        if resource.get("resourceType").and_then(Value::as_str) != Some(resource_type.as_str()) {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("The body must be a {resource_type}."),
            )
            .at(format!("{resource_type}.resourceType")));
        }
        let identifiers = resource
            .get("identifier")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let matches = identifiers.iter().any(|i| {
            i.get("system").and_then(Value::as_str) == Some(key.identifier_system.as_str())
                && i.get("value").and_then(Value::as_str) == Some(key.identifier_value.as_str())
        });
        if !matches
            || identifiers
                .first()
                .and_then(|i| i.get("value"))
                .and_then(Value::as_str)
                != Some(key.identifier_value.as_str())
        {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "The resource's first identifier must be the one in the URL.",
            )
            .at(format!("{resource_type}.identifier")));
        }
        // The same path as every bundle: one entry, the resource exactly as sent.
        let bundle = format!(
            r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{body}}}]}}"#
        );
        let wrapped: Value = serde_json::from_str(&bundle).map_err(|e| internal(&e))?;
        check_custodian(&wrapped, &sender_org).map_err(|p| Problem {
            expression: p
                .expression
                .map(|e| e.replacen("Bundle.entry[0].resource", &resource_type, 1)),
            ..p
        })?;
        let sender = Sender {
            organisation: sender_org.id,
            received_at: state.clock.now(),
            request_id,
        };
        let mapped = map_bundle(&sender, &state.code_list, &bundle)
            .map_err(ingest_problem)
            .map_err(|p| Problem {
                expression: p
                    .expression
                    .map(|e| e.replacen("Bundle.entry[0].resource", &resource_type, 1)),
                ..p
            })?;
        let outcomes = apply_mapped(state.storage.as_ref(), mapped)
            .await
            .map_err(ingest_problem)?;
        Ok(outcomes
            .into_iter()
            .next()
            .unwrap_or(EntryOutcome::Accepted))
    }
    .await;
    match result {
        Ok(EntryOutcome::Item(outcome)) => {
            let status = if outcome.change == ItemChange::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = (
                status,
                fhir_json(&json!({ "resourceType": "OperationOutcome", "issue": [{
                "severity": "information", "code": "informational",
                "diagnostics": format!("Stored as version {}.", outcome.version),
            }] })),
            )
                .into_response();
            if let Ok(location) = format!(
                "{resource_type}/{}/_history/{}",
                outcome.public_id, outcome.version
            )
            .parse()
            {
                response.headers_mut().insert(header::LOCATION, location);
            }
            if let Ok(etag) = format!("W/\"{}\"", outcome.version).parse() {
                response.headers_mut().insert(header::ETAG, etag);
            }
            response
        }
        Ok(held @ EntryOutcome::Held { .. }) => (
            StatusCode::ACCEPTED,
            fhir_json(&entry_response(&held)["response"]["outcome"]),
        )
            .into_response(),
        Ok(EntryOutcome::Accepted) => StatusCode::OK.into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The OpenAPI description of this API (kept in `server/src/feed/openapi.json`).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// What the feed supports, and nothing more.
async fn metadata(State(state): State<FeedState>) -> Response {
    let resources: Vec<Value> = [
        "Patient",
        "Appointment",
        "DocumentReference",
        "DiagnosticReport",
        "Observation",
        "Composition",
        "Encounter",
    ]
    .iter()
    .map(|t| json!({ "type": t, "versioning": "versioned", "conditionalUpdate": false }))
    .collect();
    fhir_json(&json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": state.clock.now().format("%Y-%m-%d").to_string(),
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "application/json"],
        "software": { "name": "Your health record feed", "version": env!("CARGO_PKG_VERSION") },
        "rest": [{
            "mode": "server",
            "documentation": "Send records as transaction bundles (all or nothing) or batch bundles (entry by entry) to the base URL. Authenticate with the organisation's bearer credential.",
            "security": { "description": "Authorization: Bearer <feed credential issued to the organisation>" },
            "resource": resources,
            "interaction": [{ "code": "transaction" }, { "code": "batch" }],
        }],
    }))
}

async fn method_not_allowed() -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "This interaction is not supported by the feed; see /fhir/metadata.",
    )
    .into_response()
}

async fn not_supported(_request: Request<Body>) -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-supported",
        "This interaction is not supported by the feed; see /fhir/metadata.",
    )
    .into_response()
}
