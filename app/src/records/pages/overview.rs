//! The record's overview: next appointments, what is new since the last visit, and
//! results received but not available yet.

use leptos::prelude::*;
use leptos_meta::Title;

use super::appointments::AppointmentCard;
use super::results::ResultCard;
use super::*;
use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::api::*;
use crate::records::view::*;

#[component]
pub fn RecordHomePage() -> impl IntoView {
    let summary = OnceResource::new(record_summary());
    view! {
        <Title text="Your record - Your health record"/>
        <RecordNav current="/record"/>
        <Suspense fallback=|| view! { <p>"Loading your record…"</p> }>
            {move || summary.get().map(|result| match result {
                Ok(summary) => view! { <RecordHome summary/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub(super) fn RecordHome(summary: HomeSummary) -> impl IntoView {
    let greeting = match (&summary.acting_for, &summary.given_name) {
        (Some(acting_for), _) => format!("{}'s record", acting_for.name),
        (None, Some(name)) => format!("Hello, {name}"),
        (None, None) => "Your record".to_owned(),
    };
    let proxy_note = summary.acting_for.clone().map(|acting_for| {
        let sections = if acting_for.sections.is_empty() {
            "nothing".to_owned()
        } else {
            acting_for.sections.join(", ").to_lowercase()
        };
        view! {
            <div class="nhsuk-inset-text">
                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>{format!("You are acting for {}. You can see their {sections}. What you look at is recorded, and {} can see it.", acting_for.name, acting_for.name)}</p>
            </div>
        }
    });
    let is_proxy = summary.acting_for.is_some();
    let since = match summary.last_visit {
        Some(at) => format!("New since your last visit on {}", format::date(at)),
        None => "New in your record".to_owned(),
    };
    view! {
        <h1>{greeting}</h1>
        {proxy_note}
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h2>{if is_proxy { "Next appointments" } else { "Your next appointments" }}</h2>
                {if summary.next_appointments.is_empty() {
                    view! { <p>{if is_proxy { "There are no upcoming appointments." } else { "You have no upcoming appointments." }}</p> }.into_any()
                } else {
                    view! {
                        <ul class="nhsuk-list app-card-list">
                            {summary.next_appointments.into_iter().map(|a| view! { <li><AppointmentCard appointment=a/></li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <p><a href="/record/appointments">{if is_proxy { "See all appointments" } else { "See all your appointments" }}</a></p>

                <h2>{since}</h2>
                {if summary.new_items.is_empty() {
                    view! { <p>"Nothing new has arrived since then."</p> }.into_any()
                } else {
                    view! {
                        <ul class="nhsuk-list app-new-items">
                            {summary.new_items.into_iter().map(|item| view! {
                                <li>
                                    <strong class="nhsuk-tag nhsuk-tag--blue">{item.kind_label}</strong>" "
                                    <a href=item.href>{item.title}</a>
                                    <ProvenanceLine provenance=item.provenance/>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}

                <h2>"Results not available yet"</h2>
                {if summary.awaiting.is_empty() {
                    view! { <p>"All the results you have been sent are available to read."</p> }.into_any()
                } else {
                    view! {
                        <ul class="nhsuk-list app-card-list">
                            {summary.awaiting.into_iter().map(|r| view! { <li><ResultCard result=r/></li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </div>
            <div class="nhsuk-grid-column-one-third">
                <h2 class="nhsuk-heading-s">{if is_proxy { "Their record" } else { "Your record" }}</h2>
                <ul class="nhsuk-list">
                    <li><a href="/record/appointments">"Appointments"</a></li>
                    <li><a href="/record/letters">"Letters and documents"</a></li>
                    <li><a href="/record/results">"Test results"</a></li>
                    <li><a href="/account/download">{if is_proxy { "Download their record" } else { "Download your record" }}</a></li>
                </ul>
                {(!is_proxy).then(|| view! {
                    <h2 class="nhsuk-heading-s">"Sharing your record"</h2>
                    <ul class="nhsuk-list">
                        <li><a href="/account/people">"People who can see your record"</a></li>
                        <li><a href="/proxy/choose">"See someone else's record"</a></li>
                        <li><a href="/account/access-log">"Who has seen your record"</a></li>
                        <li><a href="/account/requests">"Copies of your data"</a></li>
                        <li><a href="/account/choices">"Your choices"</a></li>
                    </ul>
                })}
                <SourceFreshnessList sources=summary.sources/>
            </div>
        </div>
    }
}
