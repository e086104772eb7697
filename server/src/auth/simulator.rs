//! A built-in identity provider for development and the demo, speaking the same protocol
//! as NHS login (`shared/docs/nhs-login.md`): discovery, a key set, an authorize page
//! listing made-up people with a cancel button, a token endpoint that accepts only a
//! `private_key_jwt` client assertion signed RS512 by the configured client key, RS512 ID
//! tokens with `vot`, `vtm`, `nhs_number` and `identity_proofing_level`, and userinfo.
//! The portal's real OpenID Connect client talks to it over HTTP exactly as it would to
//! NHS login. A second instance plays the staff identity provider.
//!
//! It is off unless explicitly enabled, and the server warns at start when it is on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Form;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use app::auth::IdentityLevel;
use app::server::Clock;

use super::keys::{CLIENT_ASSERTION_TYPE, ClientAssertion, SigningKey};

/// One made-up person the simulator can sign in as.
#[derive(Debug, Clone)]
pub struct SimulatedPerson {
    pub id: &'static str,
    pub label: String,
    pub description: String,
    pub subject: String,
    pub level: Option<IdentityLevel>,
    pub claims: serde_json::Map<String, Value>,
}

/// The people NHS login's simulator offers, with ages computed from `today` so that the
/// 12-year-old stays 12.
pub fn nhs_login_people(today: NaiveDate) -> Vec<SimulatedPerson> {
    let person =
        |id, label: &str, description: &str, level: IdentityLevel, claims: Value| SimulatedPerson {
            id,
            label: label.to_owned(),
            description: description.to_owned(),
            subject: format!("simulated-{id}"),
            level: Some(level),
            claims: claims.as_object().cloned().unwrap_or_default(),
        };
    vec![
        person(
            "amelia",
            "Amelia Hart",
            "Adult, identity verified (P9). Has records from all three demo organisations.",
            IdentityLevel::P9,
            json!({ "nhs_number": crate::demo::AMELIA, "birthdate": "1984-06-12", "family_name": "Hart", "given_name": "Amelia", "email": "amelia.hart@example.com", "phone_number": "+447700900001" }),
        ),
        person(
            "daniel",
            "Daniel Hart",
            "Parent of Oliver (aged 9), identity verified (P9).",
            IdentityLevel::P9,
            json!({ "nhs_number": crate::demo::DANIEL, "birthdate": "1982-01-30", "family_name": "Hart", "given_name": "Daniel", "email": "daniel.hart@example.com", "phone_number": "+447700900002" }),
        ),
        person(
            "ngozi",
            "Ngozi Okafor",
            "Daughter of Grace, with a health and welfare lasting power of attorney (P9).",
            IdentityLevel::P9,
            json!({ "nhs_number": crate::demo::NGOZI, "birthdate": "1968-07-14", "family_name": "Okafor", "given_name": "Ngozi", "email": "ngozi.okafor@example.com", "phone_number": "+447700900006" }),
        ),
        person(
            "priya",
            "Priya Shah",
            "Identity partly checked (P5): signed in, but no records until verified.",
            IdentityLevel::P5,
            json!({ "nhs_number": "9990009600", "birthdate": "1990-09-09", "family_name": "Shah", "given_name": "Priya", "email": "priya.shah@example.com", "phone_number": "+447700900003" }),
        ),
        person(
            "sam",
            "Sam Taylor",
            "Email and phone checked only (P0): nothing clinical.",
            IdentityLevel::P0,
            json!({ "birthdate": "1995-05-05", "email": "sam.taylor@example.com", "phone_number": "+447700900004" }),
        ),
        person(
            "sophie",
            "Sophie Turner",
            "Aged 12, identity verified (P9): too young for this service.",
            IdentityLevel::P9,
            json!({ "nhs_number": crate::demo::SOPHIE, "birthdate": crate::demo::sophie_birthdate(today), "family_name": "Turner", "given_name": "Sophie", "email": "sophie.turner@example.com", "phone_number": "+447700900005" }),
        ),
    ]
}

/// The people the staff identity provider simulator offers.
pub fn staff_people(role_claim: &str, role_value: &str) -> Vec<SimulatedPerson> {
    let mut agent = serde_json::Map::new();
    agent.insert("name".into(), json!("Jordan Okoro"));
    agent.insert("email".into(), json!("jordan.okoro@northgate.example"));
    agent.insert(role_claim.to_owned(), json!([role_value]));
    let mut other = serde_json::Map::new();
    other.insert("name".into(), json!("Alex Reid"));
    other.insert("email".into(), json!("alex.reid@northgate.example"));
    other.insert(role_claim.to_owned(), json!(["ward_clerk"]));
    vec![
        SimulatedPerson {
            id: "jordan",
            label: "Jordan Okoro".into(),
            description: "Service desk agent.".into(),
            subject: "staff-jordan".into(),
            level: None,
            claims: agent,
        },
        SimulatedPerson {
            id: "alex",
            label: "Alex Reid".into(),
            description: "Staff member without the service desk role.".into(),
            subject: "staff-alex".into(),
            level: None,
            claims: other,
        },
    ]
}

#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    title: &'static str,
    issuer: String,
    client_id: String,
    redirect_uri: String,
    client_key: jsonwebtoken::DecodingKey,
    signing_key: SigningKey,
    clock: Arc<dyn Clock>,
    people: Vec<SimulatedPerson>,
    /// Whether `vtr`, `vot` and `vtm` are part of this provider's protocol.
    nhs_login: bool,
    grants: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    used_assertions: Mutex<HashMap<String, DateTime<Utc>>>,
}

#[derive(Clone)]
struct Grant {
    person: String,
    nonce: Option<String>,
    vot: Option<String>,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

pub struct SimulatorSettings {
    pub title: &'static str,
    /// The issuer URL (this simulator's base URL).
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// The public key the client's assertions must verify with.
    pub client_public_key_pem: String,
    pub people: Vec<SimulatedPerson>,
    pub nhs_login: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("the simulator's client key is not an RSA public key")]
    ClientKey,
    #[error("could not make the simulator's signing key: {0}")]
    SigningKey(String),
}

impl Simulator {
    pub fn new(settings: SimulatorSettings, clock: Arc<dyn Clock>) -> Result<Self, SimulatorError> {
        let client_key = DecodingKey::from_rsa_pem(settings.client_public_key_pem.as_bytes())
            .map_err(|_| SimulatorError::ClientKey)?;
        let signing_key =
            SigningKey::generate().map_err(|e| SimulatorError::SigningKey(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                title: settings.title,
                issuer: settings.issuer.trim_end_matches('/').to_owned(),
                client_id: settings.client_id,
                redirect_uri: settings.redirect_uri,
                client_key,
                signing_key,
                clock,
                people: settings.people,
                nhs_login: settings.nhs_login,
                grants: Mutex::new(HashMap::new()),
                access_tokens: Mutex::new(HashMap::new()),
                used_assertions: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The simulator's routes, to be nested at the path of its issuer URL.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/authorize", get(authorize_page).post(authorize_decision))
            .route("/token", axum::routing::post(token))
            .route("/userinfo", get(userinfo))
            .with_state(self.clone())
    }
}

async fn discovery(State(sim): State<Simulator>) -> Json<Value> {
    let base = &sim.inner.issuer;
    let mut document = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS512"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS512"],
        "scopes_supported": ["openid", "profile", "email", "phone"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "vot", "vtm", "nhs_number", "birthdate", "family_name", "identity_proofing_level", "email", "phone_number"],
    });
    if sim.inner.nhs_login {
        // As NHS login: vectors of trust supported, no PKCE advertised.
        document["vtr_supported"] = json!([
            "P0.Cp.Cd", "P0.Cp.Ck", "P0.Cm", "P5.Cp.Cd", "P5.Cp.Ck", "P5.Cm", "P9.Cp.Cd",
            "P9.Cp.Ck", "P9.Cm"
        ]);
    } else {
        document["code_challenge_methods_supported"] = json!(["S256"]);
    }
    Json(document)
}

async fn jwks(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "keys": [sim.inner.signing_key.public_jwk()] }))
}

#[derive(Debug, Deserialize, Serialize, Default)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    vtr: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// On the decision form: the person chosen.
    person: Option<String>,
    /// On the decision form: "cancel" when the cancel button was pressed.
    action: Option<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Checks what the provider must check before showing anything: our client, our exact
/// redirect URI, the code flow, `openid`, and (NHS login) `state` and `nonce`.
fn check_request(sim: &Simulator, params: &AuthorizeParams) -> Result<(), &'static str> {
    if params.client_id.as_deref() != Some(sim.inner.client_id.as_str()) {
        return Err("unknown client_id");
    }
    if params.redirect_uri.as_deref() != Some(sim.inner.redirect_uri.as_str()) {
        return Err("redirect_uri does not match the registered one");
    }
    if params.response_type.as_deref() != Some("code") {
        return Err("response_type must be code");
    }
    if !params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .any(|s| s == "openid")
    {
        return Err("scope must include openid");
    }
    if params.state.is_none() || (sim.inner.nhs_login && params.nonce.is_none()) {
        return Err("state and nonce are mandatory");
    }
    Ok(())
}

/// What the provider shows instead of redirecting when the request itself is wrong (it
/// must never redirect to an unchecked redirect URI).
fn invalid_request(sim: &Simulator, problem: &str) -> Response {
    let body = format!("<h1>Invalid request</h1><p>{}</p>", escape(problem));
    (
        StatusCode::BAD_REQUEST,
        Html(simple_page(sim.inner.title, &body)),
    )
        .into_response()
}

async fn authorize_page(
    State(sim): State<Simulator>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    if let Err(problem) = check_request(&sim, &params) {
        return invalid_request(&sim, problem);
    }
    let hidden: String = [
        ("response_type", &params.response_type),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("scope", &params.scope),
        ("state", &params.state),
        ("nonce", &params.nonce),
        ("vtr", &params.vtr),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
    ]
    .iter()
    .filter_map(|(name, value)| {
        value.as_ref().map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(v)
            )
        })
    })
    .collect();
    let choices: String = sim
        .inner
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let level = p.level.map(|l| format!(" ({})", l.code())).unwrap_or_default();
            format!(
                "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" id=\"person-{i}\" name=\"person\" type=\"radio\" value=\"{id}\"{checked} aria-describedby=\"person-{i}-hint\">\
                 <label class=\"nhsuk-label nhsuk-radios__label\" for=\"person-{i}\">{label}{level}</label>\
                 <div class=\"nhsuk-hint nhsuk-radios__hint\" id=\"person-{i}-hint\">{description}</div></div>",
                id = p.id,
                checked = if i == 0 { " checked" } else { "" },
                label = escape(&p.label),
                description = escape(&p.description),
            )
        })
        .collect();
    let body = format!(
        "<h1>{title}</h1>\
         <p>This is a simulator for the demonstration. Choose who to sign in as. No real NHS login account is used.</p>\
         <form method=\"post\" action=\"authorize\" novalidate>{hidden}\
         <div class=\"nhsuk-form-group\"><fieldset class=\"nhsuk-fieldset\"><legend class=\"nhsuk-fieldset__legend nhsuk-fieldset__legend--m\">Who are you?</legend>\
         <div class=\"nhsuk-radios\">{choices}</div></fieldset></div>\
         <div class=\"nhsuk-button-group\"><button class=\"nhsuk-button\" type=\"submit\">Continue</button>\
         <button class=\"nhsuk-button nhsuk-button--secondary\" type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></div>\
         </form>",
        title = sim.inner.title,
    );
    Html(simple_page(sim.inner.title, &body)).into_response()
}

fn simple_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/pkg/portal.css\"><link rel=\"icon\" href=\"/assets/images/favicon.ico\"></head><body>\
         <header class=\"nhsuk-header\" role=\"banner\"><div class=\"nhsuk-header__container nhsuk-width-container\"><div class=\"nhsuk-header__service\">\
         <span class=\"nhsuk-header__service-name\">{title}</span></div></div></header>\
         <div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" id=\"maincontent\" role=\"main\">\
         <div class=\"nhsuk-grid-row\"><div class=\"nhsuk-grid-column-two-thirds\">{body}</div></div></main></div></body></html>"
    )
}

async fn authorize_decision(
    State(sim): State<Simulator>,
    Form(params): Form<AuthorizeParams>,
) -> Response {
    if let Err(problem) = check_request(&sim, &params) {
        return invalid_request(&sim, problem);
    }
    let redirect_uri = params.redirect_uri.clone().unwrap_or_default();
    let state = params.state.clone().unwrap_or_default();
    let mut target = match url::Url::parse(&redirect_uri) {
        Ok(url) => url,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let cancelled = params.action.as_deref() == Some("cancel");
    let chosen = params
        .person
        .as_deref()
        .filter(|_| !cancelled)
        .and_then(|id| sim.inner.people.iter().find(|p| p.id == id));
    match chosen {
        None => {
            // The person cancelled: what NHS login sends when consent is not given.
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("error_description", "The user cancelled the sign-in")
                .append_pair("state", &state);
        }
        Some(person) => {
            let requested: Vec<String> = params
                .vtr
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default();
            let vot = if sim.inner.nhs_login {
                Some(achieved_vector(person.level, &requested))
            } else {
                None
            };
            let code = super::session::random_token();
            let grant = Grant {
                person: person.id.to_owned(),
                nonce: params.nonce.clone(),
                vot,
                redirect_uri: redirect_uri.clone(),
                expires_at: sim.inner.clock.now() + Duration::minutes(10),
            };
            sim.inner
                .grants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(code.clone(), grant);
            target
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &state);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

/// The vector NHS login would report: the first requested vector at the person's level,
/// or, when none was requested at that level, the person's own level's vector (which a
/// careful client then refuses).
fn achieved_vector(level: Option<IdentityLevel>, requested: &[String]) -> String {
    let level = level.unwrap_or(IdentityLevel::P0);
    requested
        .iter()
        .find(|v| IdentityLevel::of_vector(v) == Some(level))
        .cloned()
        .unwrap_or_else(|| format!("{}.Cp.Cd", level.code()))
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

fn token_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// Whether an assertion is within its lifetime at `now`: not expired and not issued in
/// the future, each with the same minute of clock skew NHS login allows.
fn assertion_is_current(assertion: &ClientAssertion, now: DateTime<Utc>) -> bool {
    const SKEW_SECONDS: i64 = 60;
    let now = now.timestamp();
    assertion.exp + SKEW_SECONDS > now && assertion.iat - SKEW_SECONDS <= now
}

async fn token(State(sim): State<Simulator>, Form(request): Form<TokenRequest>) -> Response {
    let now = sim.inner.clock.now();
    if request.grant_type.as_deref() != Some("authorization_code") {
        return token_error(
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
    if request.client_assertion_type.as_deref() != Some(CLIENT_ASSERTION_TYPE) {
        return token_error(
            "invalid_client",
            "private_key_jwt client authentication is required",
        );
    }
    let token_endpoint = format!("{}/token", sim.inner.issuer);
    let mut validation = Validation::new(Algorithm::RS512);
    validation.set_audience(&[token_endpoint.as_str()]);
    validation.set_issuer(&[sim.inner.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    // jsonwebtoken would judge `exp` by the wall clock; the simulator keeps the portal's
    // time (injected, so tests can move it), and checks expiry against that instead.
    validation.validate_exp = false;
    let assertion = match jsonwebtoken::decode::<ClientAssertion>(
        request.client_assertion.as_deref().unwrap_or_default(),
        &sim.inner.client_key,
        &validation,
    ) {
        Ok(data)
            if data.claims.sub == sim.inner.client_id
                && assertion_is_current(&data.claims, now) =>
        {
            data.claims
        }
        _ => return token_error("invalid_client", "the client assertion is not valid"),
    };
    {
        let mut used = sim
            .inner
            .used_assertions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, expires| *expires > now);
        if used
            .insert(assertion.jti.clone(), now + Duration::minutes(5))
            .is_some()
        {
            return token_error("invalid_client", "the client assertion was already used");
        }
    }
    // A code is single use: it is removed whether or not the rest succeeds.
    let grant = sim
        .inner
        .grants
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(request.code.as_deref().unwrap_or_default());
    let Some(grant) = grant.filter(|g| g.expires_at > now) else {
        return token_error("invalid_grant", "the authorization code is not valid");
    };
    if request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return token_error("invalid_grant", "redirect_uri does not match");
    }
    let Some(person) = sim.inner.people.iter().find(|p| p.id == grant.person) else {
        return token_error("invalid_grant", "unknown person");
    };
    let mut claims = person.claims.clone();
    claims.insert("iss".into(), json!(sim.inner.issuer));
    claims.insert("sub".into(), json!(person.subject));
    claims.insert("aud".into(), json!(sim.inner.client_id));
    claims.insert("iat".into(), json!(now.timestamp()));
    claims.insert("exp".into(), json!((now + Duration::hours(1)).timestamp()));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(vot) = &grant.vot {
        claims.insert("vot".into(), json!(vot));
        claims.insert(
            "vtm".into(),
            json!(format!("{}/trustmark", sim.inner.issuer)),
        );
        if let Some(level) = person.level {
            claims.insert("identity_proofing_level".into(), json!(level.code()));
        }
    }
    let Ok(id_token) = sim.inner.signing_key.sign(&claims) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": "server_error" })),
        )
            .into_response();
    };
    let access_token = super::session::random_token();
    sim.inner
        .access_tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            access_token.clone(),
            (person.id.to_owned(), now + Duration::minutes(5)),
        );
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
        "scope": "openid profile email phone",
    }))
    .into_response()
}

async fn userinfo(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    let now = sim.inner.clock.now();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let found = sim
        .inner
        .access_tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(token)
        .cloned();
    let Some((person_id, _)) = found.filter(|(_, expires)| *expires > now) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let Some(person) = sim.inner.people.iter().find(|p| p.id == person_id) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mut claims = person.claims.clone();
    claims.insert("sub".into(), json!(person.subject));
    if let Some(level) = person.level.filter(|_| sim.inner.nhs_login) {
        claims.insert("identity_proofing_level".into(), json!(level.code()));
    }
    Json(Value::Object(claims)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_achieved_vector_is_a_requested_one_at_the_persons_level() {
        let requested = vec![
            "P9.Cp.Cd".to_owned(),
            "P9.Cm".to_owned(),
            "P5.Cp.Cd".to_owned(),
        ];
        assert_eq!(
            achieved_vector(Some(IdentityLevel::P9), &requested),
            "P9.Cp.Cd"
        );
        assert_eq!(
            achieved_vector(Some(IdentityLevel::P5), &requested),
            "P5.Cp.Cd"
        );
        assert_eq!(
            achieved_vector(Some(IdentityLevel::P0), &requested),
            "P0.Cp.Cd",
            "not requested: the client must refuse it"
        );
    }

    #[test]
    fn an_assertion_is_judged_by_the_injected_clock_not_the_wall_clock() {
        // Far from any wall-clock time this test could run at.
        let now = Utc.with_ymd_and_hms(2031, 6, 1, 12, 0, 0).unwrap();
        let fresh = ClientAssertion::new("portal", "https://sim/token", now);
        assert!(assertion_is_current(&fresh, now));
        assert!(assertion_is_current(&fresh, now + Duration::seconds(90)));
        assert!(!assertion_is_current(&fresh, now + Duration::seconds(121)));
        assert!(!assertion_is_current(&fresh, now - Duration::seconds(61)));
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape("<script>\"&"), "&lt;script&gt;&quot;&amp;");
    }
}
