//! A scriptable OpenID Connect provider for the negative tests: it answers discovery, key
//! set, token and userinfo like NHS login, except for the one fault a test asks for.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use server::auth::keys::SigningKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    BadSignature,
    AlgNone,
    Hs256WithPublicKey,
    Rs256,
    UnknownKid,
    RotatedKey,
    WrongIssuer,
    WrongAudience,
    Expired,
    ExpiredWithinSkew,
    MissingNonce,
    WrongNonce,
    VotNotRequested,
    UserinfoSubMismatch,
    CodeRejected,
    /// No `birthdate` in the ID token or from userinfo.
    NoBirthdate,
}

pub struct FakeState {
    pub fault: Fault,
    pub nonce: Option<String>,
    pub now: DateTime<Utc>,
    pub jwks_fetches: usize,
    pub rotated: bool,
}

#[derive(Clone)]
pub struct FakeIdp {
    pub issuer: String,
    pub client_id: String,
    key: Arc<SigningKey>,
    other_key: Arc<SigningKey>,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeIdp {
    pub async fn start(client_id: &str, now: DateTime<Utc>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let idp = FakeIdp {
            issuer: format!("http://{address}"),
            client_id: client_id.to_owned(),
            key: Arc::new(SigningKey::generate().unwrap()),
            other_key: Arc::new(SigningKey::generate().unwrap()),
            state: Arc::new(Mutex::new(FakeState {
                fault: Fault::None,
                nonce: None,
                now,
                jwks_fetches: 0,
                rotated: false,
            })),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    pub fn set(&self, fault: Fault, nonce: &str) {
        let mut state = self.state.lock().unwrap();
        state.fault = fault;
        state.nonce = Some(nonce.to_owned());
        state.rotated = fault == Fault::RotatedKey;
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }
}

async fn discovery(State(idp): State<FakeIdp>) -> Json<Value> {
    let base = &idp.issuer;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS512"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn jwks(State(idp): State<FakeIdp>) -> Json<Value> {
    let mut state = idp.state.lock().unwrap();
    state.jwks_fetches += 1;
    // After a key rotation the provider publishes the new key.
    let key = if state.rotated && state.jwks_fetches > 1 {
        &idp.other_key
    } else {
        &idp.key
    };
    Json(json!({ "keys": [key.public_jwk()] }))
}

async fn token(
    State(idp): State<FakeIdp>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (fault, nonce, now) = {
        let state = idp.state.lock().unwrap();
        (state.fault, state.nonce.clone(), state.now)
    };
    // The client always authenticates with an RS512 assertion.
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    let header = jsonwebtoken::decode_header(&assertion).unwrap();
    assert_eq!(header.alg, Algorithm::RS512);
    assert_eq!(
        form.get("client_assertion_type").map(String::as_str),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    if fault == Fault::CodeRejected {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let mut claims = json!({
        "iss": if fault == Fault::WrongIssuer { "https://evil.example".to_owned() } else { idp.issuer.clone() },
        "sub": "fake-user",
        "aud": if fault == Fault::WrongAudience { "someone-else".to_owned() } else { idp.client_id.clone() },
        "iat": now.timestamp(),
        "exp": match fault {
            Fault::Expired => (now - Duration::minutes(5)).timestamp(),
            Fault::ExpiredWithinSkew => (now - Duration::seconds(30)).timestamp(),
            _ => (now + Duration::hours(1)).timestamp(),
        },
        "jti": uuid::Uuid::new_v4().to_string(),
        "vot": if fault == Fault::VotNotRequested { "P5.Cp.Cd" } else { "P9.Cp.Cd" },
        "vtm": "https://auth.sandpit.signin.nhs.uk/trustmark/auth.sandpit.signin.nhs.uk",
        "nhs_number": "9990000018",
        "identity_proofing_level": "P9",
        "birthdate": "1984-06-12",
    });
    if fault == Fault::NoBirthdate
        && let Some(claims) = claims.as_object_mut()
    {
        claims.remove("birthdate");
    }
    match fault {
        Fault::MissingNonce => {}
        Fault::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        _ => claims["nonce"] = json!(nonce),
    }
    let id_token = match fault {
        Fault::BadSignature => {
            // Signed by another key but claiming the published key's id.
            let mut header = Header::new(Algorithm::RS512);
            header.kid = Some(idp.key.key_id.clone());
            let other = idp.other_key.sign(&claims).unwrap();
            let signature = other.rsplit('.').next().unwrap().to_owned();
            let genuine = idp.key.sign(&claims).unwrap();
            let mut parts: Vec<&str> = genuine.split('.').collect();
            parts[2] = &signature;
            parts.join(".")
        }
        Fault::AlgNone => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
        Fault::Hs256WithPublicKey => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(idp.key.key_id.clone());
            let secret = idp.key.public_pem().unwrap();
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        }
        Fault::Rs256 => {
            // Same key, weaker algorithm than the one we accept.
            let signed = idp.key.sign(&claims).unwrap();
            let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
            parts[0] = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#,
                idp.key.key_id
            ));
            parts.join(".")
        }
        // Signed by a key the provider does not publish (unless it rotated to it).
        Fault::UnknownKid | Fault::RotatedKey => idp.other_key.sign(&claims).unwrap(),
        _ => idp.key.sign(&claims).unwrap(),
    };
    Json(json!({ "access_token": "access-1", "token_type": "Bearer", "expires_in": 300, "id_token": id_token })).into_response()
}

async fn userinfo(State(idp): State<FakeIdp>) -> Json<Value> {
    let fault = idp.state.lock().unwrap().fault;
    let sub = if fault == Fault::UserinfoSubMismatch {
        "someone-else"
    } else {
        "fake-user"
    };
    let mut info = json!({ "sub": sub, "nhs_number": "9990000018", "identity_proofing_level": "P9", "birthdate": "1984-06-12" });
    if fault == Fault::NoBirthdate
        && let Some(info) = info.as_object_mut()
    {
        info.remove("birthdate");
    }
    Json(info)
}
