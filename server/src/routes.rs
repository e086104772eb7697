//! The HTTP surface: health and readiness, the Leptos pages and server functions, static
//! files, and the layers every request passes through (request id, tracing, security
//! headers, panic catching).

use std::any::Any;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use app::server::{AppState, Clock, storage::Storage};
use app::{App, shell};

use crate::auth::keys::{self, KeyError, SigningKey};
use crate::auth::oidc::{OidcProvider, ProviderSettings};
use crate::auth::session::{CookiePolicy, SessionLayerState, session_layer};
use crate::auth::simulator::{
    Simulator, SimulatorError, SimulatorSettings, nhs_login_people, staff_people,
};
use crate::auth::{self, AuthState, StaffRole};
use crate::config::{Config, IdentityProviderConfig};

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("identity provider key: {0}")]
    Key(#[from] KeyError),
    #[error("identity provider simulator: {0}")]
    Simulator(#[from] SimulatorError),
    #[error("identity provider client could not be set up")]
    Client,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole application for a given configuration, storage and clock. Tests call
/// this with a fresh database and an injected clock; `main` with the real ones.
pub fn build_router(
    config: &Config,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
) -> Result<Router, RouterError> {
    let leptos_options = leptos_options(config);
    let cookies = CookiePolicy::from_public_url(&config.public_url);
    let mut simulators = Router::new();
    let nhs_login = match &config.nhs_login {
        Some(provider) => {
            let (client, simulator) = identity_provider(
                config,
                provider,
                "nhs-login",
                vec!["openid", "profile", "email", "phone"],
                config.nhs_login_vectors.clone(),
                clock.clone(),
                |issuer, client_id, redirect_uri, pem| SimulatorSettings {
                    title: "NHS login (simulated)",
                    issuer,
                    client_id,
                    redirect_uri,
                    client_public_key_pem: pem,
                    people: nhs_login_people(clock.now().date_naive()),
                    nhs_login: true,
                },
            )?;
            if let Some(simulator) = simulator {
                simulators = simulators.nest("/simulator/nhs-login", simulator.router());
            }
            Some(client)
        }
        None => None,
    };
    let staff = match &config.staff_oidc {
        Some(provider) => {
            let (client, simulator) = identity_provider(
                config,
                provider,
                "staff",
                vec!["openid", "profile", "email"],
                Vec::new(),
                clock.clone(),
                |issuer, client_id, redirect_uri, pem| SimulatorSettings {
                    title: "Staff sign-in (simulated)",
                    issuer,
                    client_id,
                    redirect_uri,
                    client_public_key_pem: pem,
                    people: staff_people(&config.staff_role_claim, &config.staff_role_value),
                    nhs_login: false,
                },
            )?;
            if let Some(simulator) = simulator {
                simulators = simulators.nest("/simulator/staff", simulator.router());
            }
            Some(client)
        }
        None => None,
    };
    let auth_routes = auth::router(AuthState {
        storage: storage.clone(),
        clock: clock.clone(),
        cookies: cookies.clone(),
        nhs_login,
        staff,
        staff_role: StaffRole {
            claim: config.staff_role_claim.clone(),
            value: config.staff_role_value.clone(),
        },
    });
    // Sign-in routes answer 429 past their limit per client address (`limits`).
    let auth_routes = auth_routes.layer(
        tower_governor::GovernorLayer::new(crate::limits::config(
            config.sign_in_limit,
            crate::limits::ClientAddress,
        ))
        .error_handler(crate::limits::sign_in_refusal),
    );
    let feed = crate::feed::FeedState {
        storage: storage.clone(),
        clock: clock.clone(),
        max_body_bytes: config.feed_max_body_bytes,
        code_list: Arc::new(config.privacy_codes.clone()),
    };
    let sessions = SessionLayerState {
        storage: storage.clone(),
        clock: clock.clone(),
        cookies,
    };

    let state = AppState {
        leptos_options: leptos_options.clone(),
        storage,
        clock,
        demo_mode: config.demo || config.simulator,
        proxy: config.proxy,
        bank_holidays: config.bank_holidays.clone(),
    };
    let routes = app_routes();
    let context_state = state.clone();
    let provide_state = move || provide_context(context_state.clone());
    // The built site's files (CSS, scripts, WebAssembly, images), served without leptos
    // (see `not_found_page`), and for any other address "Page not found".
    let site_files = ServeDir::new(&*leptos_options.site_root)
        .precompressed_gzip()
        .precompressed_br()
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found_page.with_state(state.clone()));

    let router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        // Browsers ask for it whatever the page says.
        .route(
            "/favicon.ico",
            get(|| async { axum::response::Redirect::permanent("/assets/images/favicon.ico") }),
        )
        .route(
            "/record/letters/{id}/attachments/{sha256}",
            get(crate::record_files::letter_attachment),
        )
        .route(
            "/account/download/{file}",
            get(crate::record_files::record_download),
        )
        .route(
            "/account/requests/{id}/{file}",
            get(crate::record_files::answer_download),
        )
        .merge(crate::forms::router(Arc::new(config.privacy_codes.clone())))
        .leptos_routes_with_context(&state, routes, provide_state.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback_service(site_files)
        .with_state(state)
        .nest(
            "/fhir",
            // Past its limit per client address, then per credential, the feed answers
            // 429 (`limits`).
            crate::feed::router(feed)
                .layer(
                    tower_governor::GovernorLayer::new(crate::limits::config(
                        config.feed_limit,
                        crate::limits::FeedCredential,
                    ))
                    .error_handler(crate::limits::feed_refusal),
                )
                .layer(
                    tower_governor::GovernorLayer::new(crate::limits::config(
                        config.feed_address_limit,
                        crate::limits::ClientAddress,
                    ))
                    .error_handler(crate::limits::feed_address_refusal),
                ),
        )
        .merge(auth_routes)
        .merge(simulators)
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            session_layer,
        ))
        // A request body that stalls is cut off with 408; a request not answered in
        // time, 503 (`connections` bounds the headers and idle connections); inside the
        // header layers, so that those answers carry the same security headers.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.header_read_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ));
    let router = with_security_headers(router, &config.public_url)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    Ok(router)
}

/// The headers every response carries, whoever wrote it: the security headers, a
/// default Content-Security-Policy for the pages the server writes itself (the too-many-
/// attempts, form-problem, simulator and panic pages; the Leptos pages and the
/// downloads set their own, which it leaves alone), and `no-store` on everything but
/// static files. A handler that panics is answered inside these layers, so its problem
/// page carries them too.
fn with_security_headers(router: Router, public_url: &str) -> Router {
    router
        .layer(CatchPanicLayer::custom(problem_response))
        // Nothing but the portal's stylesheet and images; no script at all; forms only
        // to the portal itself.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // No powerful browser feature is used, so none may be (nor by anything framed).
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        ))
        // A page opened from the portal gets no handle on it, and the portal's responses
        // are not for other sites to embed.
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        // Served over https, browsers are told to use nothing else for two years.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            strict_transport_security(public_url),
        ))
        .layer(axum::middleware::from_fn(no_store_for_dynamic_pages))
}

/// The app's "Page not found" with status 404, for an address that is neither a route
/// nor one of the built site's files (`build_router` serves those with `ServeDir`).
///
/// Not leptos_axum's `file_and_error_handler`: it answers a file inside a reactive owner
/// made with `Owner::new()`, whose parent is whatever owner the thread last set as
/// current, and leptos sets each page's root owner as current on the thread that starts
/// rendering it and leaves it there. So a file served on that thread while the page was
/// still being sent took that page's response headers (its Content-Security-Policy) and
/// its status (a script answered 404 after a "Page not found"). Files here never touch a
/// reactive owner; the not-found page renders under a root owner of its own, as every
/// page does.
async fn not_found_page(State(state): State<AppState>, request: Request<Body>) -> Response<Body> {
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_app_async_with_context(
        move || provide_context(state.clone()),
        move || shell(options.clone()),
    );
    let mut response = render(request).await;
    // A page that set no status of its own is still not here.
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

/// The policy of a response that sets none of its own: the server's plain pages.
const DEFAULT_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Every powerful browser feature, switched off.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), magnetometer=(), \
     microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), \
     screen-wake-lock=(), sync-xhr=(), usb=(), xr-spatial-tracking=(), interest-cohort=()";

/// `Strict-Transport-Security` when the portal's public address is https; none on
/// plain http (a local demo), where browsers ignore it anyway.
fn strict_transport_security(public_url: &str) -> Option<HeaderValue> {
    public_url
        .starts_with("https://")
        .then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"))
}

/// The app's routes, worked out once per process.
///
/// Working them out renders the app with resource loading switched off, and leptos keeps
/// that switch in one process-wide flag: a page that another server in the same process
/// starts rendering meanwhile (the integration tests run many servers side by side)
/// waits on its data for ever. Worked out once, before the first server answers
/// anything, nothing can be rendering at that moment.
fn app_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The OpenID Connect client for one provider, and its simulator when the provider is
/// simulated (no issuer configured and the simulator on). A simulated provider's client
/// key is created on first start; a real one's must exist.
fn identity_provider(
    config: &Config,
    provider: &IdentityProviderConfig,
    simulator_path: &str,
    scopes: Vec<&str>,
    vectors: Vec<String>,
    clock: Arc<dyn Clock>,
    simulator_settings: impl FnOnce(String, String, String, String) -> SimulatorSettings,
) -> Result<(Arc<OidcProvider>, Option<Simulator>), RouterError> {
    let (key, issuer, simulator) = match &provider.issuer {
        Some(issuer) => (
            SigningKey::from_pem_file(&provider.private_key)?.with_key_id(&provider.key_id),
            issuer.clone(),
            None,
        ),
        None => {
            let key = keys::load_or_create(&provider.private_key)?.with_key_id(&provider.key_id);
            let issuer = format!("{}/simulator/{simulator_path}", config.public_url);
            let settings = simulator_settings(
                issuer.clone(),
                provider.client_id.clone(),
                provider.redirect_uri.clone(),
                key.public_pem()?,
            );
            (key, issuer, Some(Simulator::new(settings, clock.clone())?))
        }
    };
    let client = OidcProvider::new(
        ProviderSettings {
            issuer,
            client_id: provider.client_id.clone(),
            redirect_uri: provider.redirect_uri.clone(),
            scopes: scopes.into_iter().map(str::to_owned).collect(),
            vectors,
        },
        Arc::new(key),
        clock,
    )
    .map_err(|_| RouterError::Client)?;
    Ok((Arc::new(client), simulator))
}

/// Leptos's own settings, from ours: where the built site is and what it is called.
fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("portal")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

/// Pages and data may show a patient's record: no browser or proxy may keep a copy
/// (a shared computer's back button or cache must not reveal them). Only the built
/// static site (CSS, wasm, icons) is cacheable.
async fn no_store_for_dynamic_pages(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<Body> {
    let path = request.uri().path();
    let static_file =
        path.starts_with("/pkg/") || path.starts_with("/assets/") || path.ends_with(".js");
    let mut response = next.run(request).await;
    if !static_file {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Alive: the process is up and serving.
async fn health() -> &'static str {
    "ok"
}

/// Ready: the database answers. Failing readiness takes an instance out of a load
/// balancer without restarting it.
/// A database that does not answer within [`READY_TIMEOUT`] is as good as away: a load
/// balancer's probe must get its answer promptly, not when the pool gives up.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_TIMEOUT, state.storage.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// How long `/ready` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The response for a request whose handler panicked: the design system's "problem
/// with the service" page, with a reference that matches the one log line.
fn problem_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase();
    tracing::error!(%reference, "a request handler panicked");
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sorry, there is a problem with the service - Your health record</title>\
         <link rel=\"stylesheet\" href=\"/pkg/portal.css\"></head><body>\
         <div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" id=\"maincontent\">\
         <h1>Sorry, there is a problem with the service</h1>\
         <p>Try again later. If you contact us about this, quote reference {reference}.</p>\
         <p><a href=\"/\">Go to the home page</a></p></main></div></body></html>"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_the_problem_page_without_its_message() {
        let response = problem_response(Box::new("secret internal detail"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<h1>Sorry, there is a problem with the service</h1>"));
        assert!(html.contains("quote reference"));
        assert!(!html.contains("secret internal detail"));
    }

    async fn panicking_handler() -> &'static str {
        panic!("secret internal detail")
    }

    async fn page_with_its_own_policy() -> impl IntoResponse {
        ([(header::CONTENT_SECURITY_POLICY, "sandbox")], "a page")
    }

    /// The problem page of a handler that panicked goes out with every security
    /// header and the default policy; a response with a policy of its own keeps it.
    #[tokio::test]
    async fn a_panic_page_carries_the_security_headers_and_a_policy() {
        use tower::ServiceExt;
        let router = with_security_headers(
            Router::new()
                .route("/boom", get(panicking_handler))
                .route("/own-policy", get(page_with_its_own_policy)),
            "https://portal.example.nhs.uk",
        );
        let get_page = |path: &str| {
            axum::http::Request::get(path)
                .body(Body::empty())
                .expect("a request")
        };

        let response = router.clone().oneshot(get_page("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers();
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            DEFAULT_CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let response = router.oneshot(get_page("/own-policy")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            "sandbox"
        );
    }

    #[test]
    fn https_is_insisted_on_only_when_the_portal_is_served_over_it() {
        assert_eq!(
            strict_transport_security("https://portal.example.nhs.uk"),
            Some(HeaderValue::from_static(
                "max-age=63072000; includeSubDomains"
            ))
        );
        assert_eq!(strict_transport_security("http://127.0.0.1:3000"), None);
    }
}
