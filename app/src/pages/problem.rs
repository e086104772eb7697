//! "Page not found" and "Sorry, there is a problem with the service", worded as the
//! NHS.UK service manual's error pages are.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;

/// Sets the HTTP status of the server-rendered response.
fn set_status(status: http::StatusCode) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_status(http::StatusCode::NOT_FOUND);
    view! {
        <Title text="Page not found - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Page not found"</h1>
                <p>"If you typed the web address, check it was correct."</p>
                <p>"If you pasted the web address, check you copied the entire address."</p>
                <p><a href="/">"Go to the home page"</a></p>
            </div>
        </div>
    }
}

/// What a person sees when a page cannot be shown. Only the error's own safe wording
/// and reference appear; nothing internal ever reaches this page.
#[component]
pub fn ProblemPage(error: AppError) -> impl IntoView {
    set_status(error.status());
    let (heading, detail) = match &error {
        AppError::NotFound => (
            "Page not found",
            "If you typed the web address, check it was correct.".to_owned(),
        ),
        AppError::NotSignedIn => ("You need to sign in", error.to_string()),
        AppError::IdentityNotVerified => ("You need to prove who you are", error.to_string()),
        AppError::Internal { reference } | AppError::Unavailable { reference } => (
            "Sorry, there is a problem with the service",
            format!("Try again later. If you contact us about this, quote reference {reference}."),
        ),
        AppError::Request => (
            "Sorry, there is a problem with the service",
            "Try again later.".to_owned(),
        ),
        AppError::ProxyAccessEnded => ("You cannot see this record", error.to_string()),
        AppError::LeftPortal => ("You have left your health record", error.to_string()),
        AppError::Invalid { .. } => ("There is a problem", error.to_string()),
    };
    view! {
        <Title text=format!("{heading} - Your health record")/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>{heading}</h1>
                <p>{detail}</p>
                {match &error {
                    AppError::NotSignedIn => view! {
                        <p><a class="nhsuk-button" href="/auth/login" rel="external" role="button" draggable="false">"Continue to NHS login"</a></p>
                    }.into_any(),
                    AppError::IdentityNotVerified => view! {
                        <p><a href="/account/verify-identity">"Find out how to prove who you are"</a></p>
                    }.into_any(),
                    AppError::ProxyAccessEnded => view! {
                        <p>"The person may have changed who can see their record, or the access may have ended or been paused. "
                        <a href="/proxy/choose">"Choose whose record to see"</a></p>
                    }.into_any(),
                    AppError::LeftPortal => view! {
                        <p>"Your records are still kept, because the people caring for you use them. "
                        <a href="/account/choices/return">"Come back to your health record"</a></p>
                    }.into_any(),
                    _ => view! { <p><a href="/">"Go to the home page"</a></p> }.into_any(),
                }}
            </div>
        </div>
    }
}
