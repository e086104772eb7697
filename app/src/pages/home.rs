//! The home page: what the service is and which organisations share records through it.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::pages::ProblemPage;
use crate::site::current_site_info;

/// A source organisation as anyone may see it: its name and what kind of service it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    pub name: String,
    pub kind: crate::records::OrganisationKind,
}

// A read: GET, so it needs no CSRF token (only state-changing requests do).
#[server(endpoint = "list_sources", input = leptos::server_fn::codec::GetUrl)]
pub async fn list_sources() -> Result<Vec<SourceSummary>, AppError> {
    let state =
        use_context::<crate::server::AppState>().ok_or_else(|| AppError::internal(&"no state"))?;
    let organisations = state.storage.list_organisations().await?;
    Ok(organisations
        .into_iter()
        .map(|o| SourceSummary {
            name: o.name,
            kind: o.kind,
        })
        .collect())
}

#[component]
pub fn HomePage() -> impl IntoView {
    let sources = OnceResource::new(list_sources());
    let site = current_site_info();
    view! {
        <Title text="Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Your health record"</h1>
                <p class="nhsuk-lead-text">
                    "See your appointments, letters and test results from your hospital, your GP surgery and community services, all in one place."
                </p>
                <h2>"What you can do"</h2>
                <ul class="nhsuk-list nhsuk-list--bullet">
                    <li>"check upcoming and past appointments"</li>
                    <li>"read letters and discharge summaries"</li>
                    <li>"see test results once they are ready to share"</li>
                    <li>"let someone you trust, such as a carer, see your record"</li>
                    <li>"ask for a copy of your data"</li>
                </ul>
                {match site.patient {
                        Some(patient) if patient.has_record => view! {
                            <div class="nhsuk-inset-text">
                                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                                <p>"You are signed in with NHS login."</p>
                                <p><a href="/record">"Go to your record"</a></p>
                            </div>
                        }.into_any(),
                        Some(_) => view! {
                            <div class="nhsuk-inset-text">
                                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                                <p>"You are signed in, but you need to prove who you are before you can see your record. "
                                <a href="/account/verify-identity">"Find out how to see your record"</a></p>
                            </div>
                        }.into_any(),
                        None => view! {
                            <p>"You will need an NHS login with a verified identity to see your records."</p>
                            <p><a class="nhsuk-button" href="/auth/login" rel="external" role="button" draggable="false">"Continue to NHS login"</a></p>
                        }.into_any(),
                    }}
                <h2>"Organisations sharing records"</h2>
                <Suspense fallback=|| view! { <p>"Loading organisations…"</p> }>
                    {move || sources.get().map(|result| match result {
                        Ok(list) if list.is_empty() => view! {
                            <p>"No organisations are sharing records yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="nhsuk-list nhsuk-list--bullet" aria-label="Organisations sharing records">
                                {list.into_iter().map(|s| view! {
                                    <li>{s.name}" ("{kind_label(s.kind)}")"</li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

fn kind_label(kind: crate::records::OrganisationKind) -> &'static str {
    use crate::records::OrganisationKind::*;
    match kind {
        HospitalTrust => "hospital",
        GpPractice => "GP surgery",
        CommunityService => "community service",
    }
}
