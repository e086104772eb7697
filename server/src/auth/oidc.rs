//! The OpenID Connect client, shaped by NHS login's interface (`shared/docs/nhs-login.md`)
//! and used for the staff identity provider too.
//!
//! Built on the `openidconnect` crate from the provider's discovery document, so RS512
//! (NHS login's algorithm) is what it verifies with; the crate has no `private_key_jwt`,
//! so every token request carries a fresh RS512 client assertion as extra parameters.
//! ID tokens are accepted only when signed RS512 by a key in the provider's key set
//! (re-fetched, at most once a minute, when a token names an unknown key), issued by the
//! discovered issuer, for our client id, unexpired (60 s of clock skew allowed) and
//! carrying the nonce we sent. Userinfo must be about the same `sub`. Discovery happens
//! on first use, not at start, so the portal starts even while the provider is down.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, Client, ClientId, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OnceCell, RwLock};

use app::auth::VerifiedIdentity;
use app::server::Clock;

use super::keys::{CLIENT_ASSERTION_TYPE, ClientAssertion, SigningKey};

/// Claims NHS login adds to the standard ones, plus whatever else a provider sends (the
/// staff provider's role claim is configurable, so it is read from `other`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ExtraClaims {
    pub vot: Option<String>,
    pub vtm: Option<String>,
    pub nhs_number: Option<String>,
    pub identity_proofing_level: Option<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

/// Discovery fields the crate does not model: whether PKCE is offered.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PkceMetadata {
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl AdditionalProviderMetadata for PkceMetadata {}

type Metadata = ProviderMetadata<
    PkceMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;

type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How to reach and talk to one identity provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// Vectors of trust to ask for (NHS login); empty for providers without `vtr`.
    pub vectors: Vec<String>,
}

/// Everything a callback needs from the matching authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
    pub vectors: Vec<String>,
}

/// Why a sign-in failed, as a stable code for the audit trail. Never carries a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("provider_unavailable")]
    ProviderUnavailable,
    #[error("token_request_failed")]
    TokenRequestFailed,
    #[error("token_rejected_by_provider")]
    TokenRejected,
    #[error("no_id_token")]
    NoIdToken,
    #[error("id_token_bad_signature")]
    BadSignature,
    #[error("id_token_unknown_key")]
    UnknownKey,
    #[error("id_token_disallowed_alg")]
    DisallowedAlgorithm,
    #[error("id_token_wrong_issuer")]
    WrongIssuer,
    #[error("id_token_wrong_audience")]
    WrongAudience,
    #[error("id_token_expired")]
    Expired,
    #[error("id_token_wrong_nonce")]
    WrongNonce,
    #[error("id_token_invalid")]
    InvalidIdToken,
    #[error("vot_missing")]
    MissingVector,
    #[error("userinfo_failed")]
    UserInfoFailed,
    #[error("userinfo_sub_mismatch")]
    UserInfoSubjectMismatch,
    #[error("client_key_unusable")]
    ClientKey,
}

impl OidcError {
    pub fn code(self) -> String {
        self.to_string()
    }
}

/// What a provider said about someone, once every check passed.
#[derive(Debug, Clone)]
pub struct VerifiedSignIn {
    pub identity: VerifiedIdentity,
    /// Every additional claim from the ID token and userinfo (for the staff role).
    pub claims: serde_json::Map<String, serde_json::Value>,
}

struct Discovered {
    client: OidcClient,
    issuer: IssuerUrl,
    token_endpoint: String,
    jwks_uri: openidconnect::JsonWebKeySetUrl,
    pkce: bool,
}

struct KeySet {
    keys: CoreJsonWebKeySet,
    /// When the set was last refreshed because of an unknown key (not at discovery).
    refreshed_at: Option<Instant>,
    /// When the set was fetched (at discovery or since), by the portal's clock.
    fetched_at: DateTime<Utc>,
}

/// A key set older than this is fetched again before the next token is checked, so a
/// key the provider withdrew stops being trusted within the hour, not only when an
/// unknown key happens to appear.
const KEY_SET_MAX_AGE_MINUTES: i64 = 60;

/// Re-fetch the key set for an unknown `kid` at most this often, so a stream of forged
/// tokens cannot turn us into a load generator against the provider.
const KEY_REFETCH_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// Clock skew allowed when checking expiry.
const CLOCK_SKEW_SECONDS: i64 = 60;

pub struct OidcProvider {
    settings: ProviderSettings,
    signing_key: Arc<SigningKey>,
    clock: Arc<dyn Clock>,
    http: openidconnect::reqwest::Client,
    discovered: OnceCell<Discovered>,
    keys: RwLock<Option<KeySet>>,
    refetch: Mutex<()>,
}

impl OidcProvider {
    pub fn new(
        settings: ProviderSettings,
        signing_key: Arc<SigningKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OidcError> {
        // Back-channel calls never follow redirects (a redirect there is an attack or a
        // misconfiguration, never something to obey).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(StdDuration::from_secs(15))
            .build()
            .map_err(|_| OidcError::ProviderUnavailable)?;
        Ok(Self {
            settings,
            signing_key,
            clock,
            http,
            discovered: OnceCell::new(),
            keys: RwLock::new(None),
            refetch: Mutex::new(()),
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    async fn discovered(&self) -> Result<&Discovered, OidcError> {
        self.discovered
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|_| OidcError::ProviderUnavailable)?;
                let metadata = Metadata::discover_async(issuer, &self.http).await.map_err(|error| {
                    tracing::warn!(%error, issuer = %self.settings.issuer, "OpenID Connect discovery failed");
                    OidcError::ProviderUnavailable
                })?;
                let pkce = metadata
                    .additional_metadata()
                    .code_challenge_methods_supported
                    .as_ref()
                    .is_some_and(|methods| methods.iter().any(|m| m == "S256"));
                let token_endpoint = metadata
                    .token_endpoint()
                    .map(|u| u.as_str().to_owned())
                    .ok_or(OidcError::ProviderUnavailable)?;
                let redirect = RedirectUrl::new(self.settings.redirect_uri.clone()).map_err(|_| OidcError::ProviderUnavailable)?;
                let issuer = metadata.issuer().clone();
                let jwks_uri = metadata.jwks_uri().clone();
                *self.keys.write().await = Some(KeySet { keys: metadata.jwks().clone(), refreshed_at: None, fetched_at: self.clock.now() });
                let client = OidcClient::from_provider_metadata(metadata, ClientId::new(self.settings.client_id.clone()), None)
                    .set_redirect_uri(redirect);
                Ok(Discovered { client, issuer, token_endpoint, jwks_uri, pkce })
            })
            .await
    }

    /// A new authorization request: random `state` and `nonce`, PKCE S256 when the
    /// provider offers it, our scopes, `vtr` when vectors are given, and
    /// `prompt=login` when the person must authenticate again (their last session ended
    /// by the idle or absolute limit; NHS login supports `prompt`, not `max_age`).
    pub async fn authorization_request(
        &self,
        vectors: &[String],
        reauthenticate: bool,
    ) -> Result<AuthorizationRequest, OidcError> {
        let discovered = self.discovered().await?;
        let mut request = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            // The crate always sends `openid` itself.
            .add_scopes(
                self.settings
                    .scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .cloned()
                    .map(Scope::new),
            );
        if !vectors.is_empty() {
            let vtr = serde_json::to_string(vectors).map_err(|_| OidcError::ProviderUnavailable)?;
            request = request.add_extra_param("vtr", vtr);
        }
        if reauthenticate {
            request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login);
        }
        let mut pkce_verifier = None;
        if discovered.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier,
            vectors: vectors.to_vec(),
        })
    }

    /// Exchanges the code, verifies the ID token and reads userinfo.
    pub async fn complete(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<VerifiedSignIn, OidcError> {
        let discovered = self.discovered().await?;
        let assertion = self
            .signing_key
            .sign(&ClientAssertion::new(
                &self.settings.client_id,
                &discovered.token_endpoint,
                self.clock.now(),
            ))
            .map_err(|_| OidcError::ClientKey)?;
        // The crate already sends `client_id` in the body (there is no client secret).
        let mut exchange = discovered
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OidcError::ProviderUnavailable)?
            .add_extra_param("client_assertion_type", CLIENT_ASSERTION_TYPE)
            .add_extra_param("client_assertion", assertion);
        if let Some(verifier) = pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let tokens = exchange
            .request_async(&self.http)
            .await
            // The provider's error code and description carry no personal data.
            .inspect_err(|error| tracing::warn!(error = %describe_token_error(error), "token request failed"))
            .map_err(|error| match error {
                openidconnect::RequestTokenError::ServerResponse(_) => OidcError::TokenRejected,
                openidconnect::RequestTokenError::Parse(..) => OidcError::InvalidIdToken,
                _ => OidcError::TokenRequestFailed,
            })?;
        let id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or(OidcError::NoIdToken)?;
        let nonce = Nonce::new(nonce.to_owned());

        // On a schedule as well as on an unknown key: a stale set is fetched first.
        let stale = self.keys.read().await.as_ref().is_none_or(|k| {
            self.clock.now() - k.fetched_at >= Duration::minutes(KEY_SET_MAX_AGE_MINUTES)
        });
        if stale {
            self.refetch_keys(discovered).await;
        }
        let claims = match self.verify(discovered, id_token, &nonce).await {
            Err(OidcError::UnknownKey) => {
                self.refetch_keys(discovered).await;
                self.verify(discovered, id_token, &nonce).await?
            }
            other => other?,
        };
        let subject = claims.subject().clone();
        let extra = claims.additional_claims().clone();
        // NHS login must say which vector it achieved; providers we send no `vtr` to
        // (staff) have none to say.
        let vector = match extra.vot.clone() {
            Some(vot) => vot,
            None if self.settings.vectors.is_empty() => String::new(),
            None => return Err(OidcError::MissingVector),
        };

        let userinfo: openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim> = discovered
            .client
            .user_info(
                tokens.access_token().clone(),
                Some(SubjectIdentifier::new(subject.as_str().to_owned())),
            )
            .map_err(|_| OidcError::UserInfoFailed)?
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                openidconnect::UserInfoError::ClaimsVerification(
                    openidconnect::ClaimsVerificationError::InvalidSubject(_),
                ) => OidcError::UserInfoSubjectMismatch,
                _ => OidcError::UserInfoFailed,
            })?;
        let info = userinfo.additional_claims();
        let birthdate = claims
            .birthdate()
            .or(userinfo.birthdate())
            .map(|b| b.as_str().to_owned());
        let name = |own: Option<String>, from_userinfo: Option<String>| own.or(from_userinfo);
        let given_name = name(
            claims
                .given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            userinfo
                .given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
        );
        let family_name = name(
            claims
                .family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            userinfo
                .family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
        );
        let mut all_claims = extra.other.clone();
        // The standard `name` claim (a staff member's name, which patients read in
        // "who viewed my record"), kept with the others.
        if let Some(full_name) = claims
            .name()
            .and_then(|n| n.get(None))
            .or_else(|| userinfo.name().and_then(|n| n.get(None)))
        {
            all_claims
                .entry("name".to_owned())
                .or_insert_with(|| serde_json::Value::String(full_name.as_str().to_owned()));
        }
        for (key, value) in &info.other {
            all_claims
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        Ok(VerifiedSignIn {
            identity: VerifiedIdentity {
                subject: subject.as_str().to_owned(),
                vector,
                proofing_level: extra
                    .identity_proofing_level
                    .clone()
                    .or_else(|| info.identity_proofing_level.clone()),
                nhs_number: extra.nhs_number.clone().or_else(|| info.nhs_number.clone()),
                birthdate,
                given_name,
                family_name,
            },
            claims: all_claims,
        })
    }

    async fn verify<'t>(
        &self,
        discovered: &Discovered,
        id_token: &'t openidconnect::IdToken<
            ExtraClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
    ) -> Result<&'t openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>, OidcError> {
        let keys = self
            .keys
            .read()
            .await
            .as_ref()
            .map(|k| k.keys.clone())
            .unwrap_or_else(|| CoreJsonWebKeySet::new(Vec::new()));
        let clock = self.clock.clone();
        let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            discovered.issuer.clone(),
            keys,
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512])
        .set_time_fn(move || clock.now() - Duration::seconds(CLOCK_SKEW_SECONDS));
        id_token.claims(&verifier, nonce).map_err(classify)
    }

    /// Fetches the provider's key set again (a key rotation, or a set past its age),
    /// unless a refresh was already tried within the last minute.
    async fn refetch_keys(&self, discovered: &Discovered) {
        let _one_at_a_time = self.refetch.lock().await;
        let recent = self
            .keys
            .read()
            .await
            .as_ref()
            .and_then(|k| k.refreshed_at)
            .is_some_and(|at| at.elapsed() < KEY_REFETCH_INTERVAL);
        if recent {
            return;
        }
        let fetched = CoreJsonWebKeySet::fetch_async(&discovered.jwks_uri, &self.http).await;
        let mut keys = self.keys.write().await;
        match (fetched, keys.as_mut()) {
            (Ok(fresh), _) => {
                *keys = Some(KeySet {
                    keys: fresh,
                    refreshed_at: Some(Instant::now()),
                    fetched_at: self.clock.now(),
                })
            }
            (Err(error), Some(set)) => {
                tracing::warn!(%error, "could not re-fetch the identity provider's keys");
                // A failed refresh counts too, so failures are rate-limited as well.
                set.refreshed_at = Some(Instant::now());
            }
            (Err(error), None) => {
                tracing::warn!(%error, "could not re-fetch the identity provider's keys")
            }
        }
    }
}

fn describe_token_error<E: std::error::Error>(
    error: &openidconnect::RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match error {
        openidconnect::RequestTokenError::ServerResponse(response) => format!(
            "{}: {}",
            response.error(),
            response
                .error_description()
                .map(String::as_str)
                .unwrap_or("")
        ),
        other => other.to_string(),
    }
}

fn classify(error: openidconnect::ClaimsVerificationError) -> OidcError {
    use openidconnect::{ClaimsVerificationError as C, SignatureVerificationError as S};
    match error {
        C::Expired(_) => OidcError::Expired,
        C::InvalidAudience(_) => OidcError::WrongAudience,
        C::InvalidIssuer(_) => OidcError::WrongIssuer,
        C::InvalidNonce(_) => OidcError::WrongNonce,
        C::SignatureVerification(S::NoMatchingKey) => OidcError::UnknownKey,
        C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_) | S::NoSignature) => {
            OidcError::DisallowedAlgorithm
        }
        C::SignatureVerification(_) => OidcError::BadSignature,
        _ => OidcError::InvalidIdToken,
    }
}
