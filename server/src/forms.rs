//! The form posts of the portal's pages: each form posts to its own page's address, and
//! its handler here calls the area's service (`app::server::proxy`, …) and then either
//! redirects (303, so that reloading never posts twice) or renders the same page again
//! with the answers and their problems in a [`FormState`], so that nothing typed is lost.
//! The CSRF token and same-origin check are the session layer's, before any handler.
//!
//! Handlers are thin: parse the form, one service call, one response.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use leptos::prelude::provide_context;

use app::components::forms::{FormOutcome, FormState};
use app::error::AppError;
use std::sync::Arc;

use app::privacy::CodeList;
use app::server::{
    AppState, Viewer, choices as choices_service, desk as desk_service, proxy as proxy_service,
    sar as sar_service,
};

type Answers = BTreeMap<String, String>;

/// The form routes, merged into the app's router (the same addresses as the pages).
/// `code_list` labels a held feed item the desk matches, as the feed would have.
pub fn router(code_list: Arc<CodeList>) -> Router<AppState> {
    Router::new()
        .route("/account/choices/leave", post(make_choice))
        .route("/account/choices/return", post(make_choice))
        .route("/account/choices/object", post(make_choice))
        .route("/account/choices/withdraw", post(make_choice))
        .route("/account/requests/new", post(make_request))
        .route("/staff/requests/{id}", post(change_request))
        .route("/staff/requests/{id}/review", post(record_review))
        .route("/staff/patients", post(find_patient))
        .route("/staff/patients/{lookup}", post(desk_patient_form))
        .route(
            "/staff/held-items/{id}",
            post(
                move |state: State<AppState>,
                      viewer: Extension<Viewer>,
                      id: Path<String>,
                      request: Request| {
                    resolve_held_item(state, viewer, id, request, code_list.clone())
                },
            ),
        )
        .route("/account/people/invite", post(invite))
        .route(
            "/account/people/invitations/{id}/withdraw",
            post(withdraw_invitation),
        )
        .route("/account/people/{id}", post(change_grant))
        .route("/proxy/accept", post(accept))
        .route("/proxy/choose", post(choose))
        .route("/proxy/apply", post(apply))
        .route("/staff/proxy-applications/{id}", post(decide_application))
        .route("/staff/proxy-grants/{id}", post(change_grant_as_desk))
}

/// The form's answers, without the CSRF token (it has done its work in the layer).
async fn answers(request: Request) -> Result<(axum::http::request::Parts, Answers), Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let mut answers: Answers = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
    answers.remove("csrf_token");
    Ok((parts, answers))
}

/// Renders the page at the request's address again, with `form` in context.
async fn render_again(
    state: AppState,
    parts: axum::http::request::Parts,
    form: FormState,
    status: StatusCode,
) -> Response {
    let options = state.leptos_options.clone();
    let handler = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(state.clone());
            provide_context(form.clone());
        },
        move || app::shell(options.clone()),
    );
    let mut request = Request::from_parts(parts, axum::body::Body::empty());
    *request.method_mut() = axum::http::Method::GET;
    let mut response = handler(request).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// The response to a service's answer: a redirect when it went through; the page again
/// with the problems when answers need correcting; otherwise the page again, which
/// shows the error (signed out, not found…) with its status.
async fn respond(
    state: AppState,
    parts: axum::http::request::Parts,
    form: &str,
    answers: Answers,
    result: Result<Redirect, AppError>,
) -> Response {
    match result {
        Ok(redirect) => redirect.into_response(),
        Err(AppError::Invalid { problems }) => {
            let form = FormState {
                form: form.to_owned(),
                values: answers,
                problems,
                outcome: None,
            };
            render_again(state, parts, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::NotSignedIn) if parts.uri.path().starts_with("/staff/") => {
            Redirect::to("/staff/auth/login").into_response()
        }
        Err(AppError::NotSignedIn) => Redirect::to("/auth/login").into_response(),
        Err(error) => {
            let status = error.status();
            let message = error.to_string();
            (status, problem_page(&message)).into_response()
        }
    }
}

/// A plain page for a form that cannot go ahead at all (not found, no access): the
/// error's own safe wording, nothing internal.
fn problem_page(message: &str) -> axum::response::Html<String> {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    axum::response::Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>There is a problem - Your health record</title>\
         <link rel=\"stylesheet\" href=\"/pkg/portal.css\"></head><body>\
         <div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" id=\"maincontent\">\
         <h1>There is a problem</h1><p>{message}</p>\
         <p><a href=\"/\">Go to the home page</a></p></main></div></body></html>"
    ))
}

/// The shape of most form posts: the answers, one service call that ends in a redirect,
/// and the page again with the problems when it does not.
async fn form_post(
    state: AppState,
    request: Request,
    form: &str,
    act: impl AsyncFnOnce(&AppState, &Answers) -> Result<Redirect, AppError>,
) -> Response {
    let (parts, answers) = match answers(request).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let result = act(&state, &answers).await;
    respond(state, parts, form, answers, result).await
}

/// Renders the page again showing what happened (a new invitation's code).
async fn show_outcome(
    state: AppState,
    parts: axum::http::request::Parts,
    form: &str,
    outcome: FormOutcome,
) -> Response {
    let form = FormState {
        form: form.to_owned(),
        values: Answers::new(),
        problems: Vec::new(),
        outcome: Some(outcome),
    };
    render_again(state, parts, form, StatusCode::OK).await
}

async fn invite(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    let (parts, answers) = match answers(request).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    match proxy_service::invite(&state, viewer.patient.as_ref(), &answers).await {
        Ok(outcome) => show_outcome(state, parts, "invite", outcome).await,
        Err(error) => respond(state, parts, "invite", answers, Err(error)).await,
    }
}

async fn withdraw_invitation(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "withdraw", async |state, _| {
        proxy_service::withdraw_invitation(state, viewer.patient.as_ref(), &id).await?;
        Ok(Redirect::to("/account/people"))
    })
    .await
}

async fn change_grant(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "grant", async |state, answers| {
        proxy_service::change_grant_as_patient(state, viewer.patient.as_ref(), &id, answers)
            .await?;
        Ok(Redirect::to(&format!("/account/people/{id}")))
    })
    .await
}

async fn accept(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    let (parts, answers) = match answers(request).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let code = answers.get("code").cloned().unwrap_or_default();
    let signed_in = viewer.patient.as_ref();
    if answers.get("step").map(String::as_str) == Some("accept") {
        let result = proxy_service::accept_invitation(&state, signed_in, &code)
            .await
            .map(|_| Redirect::to("/proxy/choose"));
        return respond(state, parts, "accept", answers, result).await;
    }
    match proxy_service::find_invitation(&state, signed_in, &code).await {
        Ok(outcome) => show_outcome(state, parts, "accept", outcome).await,
        Err(error) => respond(state, parts, "accept", answers, Err(error)).await,
    }
}

async fn choose(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    form_post(state, request, "choose", async |state, answers| {
        let choice = answers.get("choice").cloned().unwrap_or_default();
        proxy_service::choose(state, viewer.patient.as_ref(), &choice).await?;
        Ok(Redirect::to("/record"))
    })
    .await
}

async fn apply(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    form_post(state, request, "apply", async |state, answers| {
        proxy_service::apply(state, viewer.patient.as_ref(), answers).await?;
        Ok(Redirect::to("/proxy/choose"))
    })
    .await
}

async fn decide_application(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "decide", async |state, answers| {
        proxy_service::decide_application(state, viewer.staff.as_ref(), &id, answers).await?;
        Ok(Redirect::to("/staff/proxy-applications"))
    })
    .await
}

async fn change_grant_as_desk(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "desk-grant", async |state, answers| {
        proxy_service::change_grant_as_desk(state, viewer.staff.as_ref(), &id, answers).await?;
        Ok(Redirect::to(&format!("/staff/proxy-grants/{id}")))
    })
    .await
}

async fn make_choice(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    form_post(state, request, "choice", async |state, answers| {
        choices_service::make_choice(state, viewer.patient.as_ref(), answers).await?;
        Ok(Redirect::to("/account/choices"))
    })
    .await
}

async fn find_patient(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    form_post(state, request, "find", async |state, answers| {
        let lookup = desk_service::find_patient(state, viewer.staff.as_ref(), answers).await?;
        Ok(Redirect::to(&format!("/staff/patients/{lookup}")))
    })
    .await
}

/// The patient page's two forms: a choice recorded for the patient, or an account
/// unlinked (`form` says which).
async fn desk_patient_form(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(lookup): Path<String>,
    request: Request,
) -> Response {
    let (parts, answers) = match answers(request).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let staff = viewer.staff.as_ref();
    let form = answers.get("form").cloned().unwrap_or_default();
    let back = || Redirect::to(&format!("/staff/patients/{lookup}"));
    let (result, form) = match form.as_str() {
        "unlink" => (
            desk_service::unlink_account(&state, staff, &lookup, &answers)
                .await
                .map(|()| back()),
            "unlink",
        ),
        "log-request" => (
            desk_service::log_request(&state, staff, &lookup, &answers)
                .await
                .map(|id| Redirect::to(&format!("/staff/requests/{id}"))),
            "log-request",
        ),
        _ => (
            desk_service::record_choice(&state, staff, &lookup, &answers)
                .await
                .map(|()| back()),
            "desk-choice",
        ),
    };
    respond(state, parts, form, answers, result).await
}

async fn resolve_held_item(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
    code_list: Arc<CodeList>,
) -> Response {
    let map = |held: &app::server::storage::HeldResource, patient: &app::domain::NhsNumber| {
        crate::ingest::map_held(held, patient, &code_list).map_err(|e| match e {
            crate::ingest::IngestError::Mapping(problem) => problem.to_string(),
            _ => "Its content could not be read.".to_owned(),
        })
    };
    form_post(state, request, "resolve", async |state, answers| {
        desk_service::resolve_held_item(state, viewer.staff.as_ref(), &id, answers, map).await?;
        Ok(Redirect::to("/staff/held-items"))
    })
    .await
}

async fn make_request(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    request: Request,
) -> Response {
    form_post(state, request, "request", async |state, answers| {
        sar_service::make_request(state, viewer.patient.as_ref(), answers).await?;
        Ok(Redirect::to("/account/requests"))
    })
    .await
}

async fn change_request(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "desk-request", async |state, answers| {
        sar_service::change_request(state, viewer.staff.as_ref(), &id, answers).await?;
        Ok(Redirect::to(&format!("/staff/requests/{id}")))
    })
    .await
}

async fn record_review(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    form_post(state, request, "review", async |state, answers| {
        sar_service::record_review(state, viewer.staff.as_ref(), &id, answers).await?;
        Ok(Redirect::to(&format!("/staff/requests/{id}")))
    })
    .await
}
