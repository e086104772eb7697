//! The portal's user interface and the rules it applies, shared by the server (feature
//! `ssr`) and the browser (feature `hydrate`).
//!
//! - `domain`, `records`, `audit`: pure types and rules, no I/O, no clock reads.
//! - `components`, `pages`: Leptos views, rendered on the server and hydrated in the
//!   browser; every page works as plain HTML without JavaScript.
//! - `server` (only with `ssr`): state, clock and storage behind server functions.
#![forbid(unsafe_code)]
// The record pages nest deep view types; release builds (without `erase_components`)
// need more than the default 128 levels to prove their trait bounds.
#![recursion_limit = "256"]

pub mod access;
pub mod access_log;
pub mod audit;
pub mod auth;
pub mod choices;
pub mod components;
pub mod desk;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod export;
pub mod pages;
pub mod privacy;
pub mod proxy;
pub mod records;
pub mod release;
pub mod sar;
pub mod site;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::components::Layout;
use crate::pages::*;

/// The HTML document around the app, rendered on the server only. It also sets the
/// page's Content-Security-Policy, with the nonce Leptos gives its inline scripts.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                // The design system's own JavaScript, as progressive enhancement.
                <script type="module" src="/nhsuk-init.js" nonce=leptos::nonce::use_nonce()></script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// A strict Content-Security-Policy for every page: scripts only from the portal itself
/// or inline with this response's nonce (the hydration script Leptos writes), never
/// `unsafe-inline` or `eval` (WebAssembly compilation aside); styles from the portal
/// (inline style attributes allowed); nothing from elsewhere; no framing, no plugins,
/// no `<base>`.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The app: meta tags, the page frame and the routes. Every route waits for its data
/// before sending anything (`SsrMode::Async`): the complete page arrives in one piece
/// without JavaScript, the status line can say 401, 403 or 404 when the data cannot be
/// shown, and nothing is streamed after the page's reactive owner may have gone. The
/// frame reads who is signed in straight from the request (`site::current_site_info`),
/// not through a resource read from several `Suspense` boundaries, which under load
/// answered 500 now and then ("a reactive value that has already been disposed"); see
/// docs/benchmarks.md, 4 December 2026.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/portal.css"/>
        <Link rel="icon" href="/assets/images/favicon.ico" sizes="48x48"/>
        <Meta name="theme-color" content="#005eb8"/>
        <Title text="Your health record"/>
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("record") view=RecordHomePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("appointments")) view=AppointmentsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("letters")) view=LettersPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("letters"), ParamSegment("id")) view=LetterPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("results")) view=ResultsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("results"), ParamSegment("id")) view=ResultPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("record"), StaticSegment("history")) view=ResultHistoryPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("people")) view=crate::proxy::pages::PeoplePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("people"), StaticSegment("invite")) view=crate::proxy::pages::InvitePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("people"), ParamSegment("id")) view=crate::proxy::pages::GrantPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("proxy"), StaticSegment("accept")) view=crate::proxy::pages::AcceptPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("proxy"), StaticSegment("choose")) view=crate::proxy::pages::ChoosePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("proxy"), StaticSegment("apply")) view=crate::proxy::pages::ApplyPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("proxy-applications")) view=crate::proxy::pages::DeskApplicationsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("proxy-applications"), ParamSegment("id")) view=crate::proxy::pages::DeskApplicationPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("proxy-grants")) view=crate::proxy::pages::DeskGrantsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("proxy-reviews")) view=crate::proxy::pages::DeskReviewsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("proxy-grants"), ParamSegment("id")) view=crate::proxy::pages::DeskGrantPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("access-log")) view=crate::access_log::pages::AccessLogPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("requests")) view=crate::sar::pages::MyRequestsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("requests"), StaticSegment("new")) view=crate::sar::pages::NewRequestPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("requests")) view=crate::sar::pages::DeskRequestsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("requests"), ParamSegment("id")) view=crate::sar::pages::DeskRequestPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("requests"), ParamSegment("id"), StaticSegment("review")) view=crate::sar::pages::ReviewPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("download")) view=crate::sar::pages::DownloadRecordPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("choices")) view=crate::choices::pages::ChoicesPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("choices"), StaticSegment("leave")) view=crate::choices::pages::LeavePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("choices"), StaticSegment("return")) view=crate::choices::pages::ReturnPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("choices"), StaticSegment("object")) view=crate::choices::pages::ObjectPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("choices"), StaticSegment("withdraw")) view=crate::choices::pages::WithdrawPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("patients")) view=crate::desk::pages::FindPatientPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("patients"), ParamSegment("lookup")) view=crate::desk::pages::DeskPatientPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("held-items")) view=crate::desk::pages::HeldItemsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("held-items"), ParamSegment("id")) view=crate::desk::pages::HeldItemPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("about") view=AboutPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("accessibility") view=AccessibilityPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("privacy") view=PrivacyPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("cancelled")) view=SignInCancelledPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("problem")) view=SignInProblemPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("too-young")) view=TooYoungPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("age-unknown")) view=AgeUnknownPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("unavailable")) view=SignInUnavailablePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("auth"), StaticSegment("signed-out")) view=SignedOutPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("verify-identity")) view=VerifyIdentityPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("staff") view=StaffHomePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("auth"), StaticSegment("refused")) view=StaffRefusedPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("auth"), StaticSegment("problem")) view=StaffSignInProblemPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("auth"), StaticSegment("cancelled")) view=StaffSignInProblemPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("staff"), StaticSegment("auth"), StaticSegment("signed-out")) view=StaffSignedOutPage ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}
