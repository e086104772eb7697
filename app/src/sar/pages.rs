//! The pages of subject access requests, rendered on the server; every change is a
//! plain POST to the page's own address, so all of it works without JavaScript.
//!
//! - `/account/requests`: the requester's requests, each with its state, due date and
//!   history; `/account/requests/new`: ask for a copy of your data;
//! - `/staff/requests` and `/staff/requests/{id}`: the desk's queue, soonest due first,
//!   overdue and due-soon requests marked, and the changes each request allows.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use crate::components::forms::{CsrfField, ErrorSummary, FormState, StaffCsrfField, TextField};
use crate::desk::pages::DeskNav;
use crate::pages::ProblemPage;
use crate::proxy::pages::{BackLink, DateField, RadioField};

#[component]
fn History(history: Vec<RequestHistoryLine>) -> impl IntoView {
    view! {
        <table class="nhsuk-table">
            <caption class="nhsuk-table__caption nhsuk-table__caption--s">"What has happened"</caption>
            <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                <th class="nhsuk-table__header" scope="col">"When"</th>
                <th class="nhsuk-table__header" scope="col">"What"</th>
            </tr></thead>
            <tbody class="nhsuk-table__body">
                {history.into_iter().map(|line| view! {
                    <tr class="nhsuk-table__row">
                        <td class="nhsuk-table__cell">{line.at}</td>
                        <td class="nhsuk-table__cell">{line.what}{line.note.map(|n| view! { <br/><span class="nhsuk-body-s">{n}</span> })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn row(key: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">{key}</dt>
            <dd class="nhsuk-summary-list__value">{value}</dd>
        </div>
    }
}

#[component]
fn RequestSummary(request: RequestView) -> impl IntoView {
    view! {
        <dl class="nhsuk-summary-list">
            {row("Received", request.received.clone())}
            {row("What it covers", request.scope.clone())}
            {request.note.clone().map(|n| row("Note", n))}
            {row("Status", request.state.clone())}
            {request.due.clone().map(|d| row("Due by", d))}
        </dl>
    }
}

/// The requester's requests.
#[component]
pub fn MyRequestsPage() -> impl IntoView {
    let requests = OnceResource::new(list_my_requests());
    view! {
        <Title text="Copies of your data - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Copies of your data"</h1>
                <p>"You have the right to a copy of the information held about you. We answer within one calendar month, free of charge. We may need to check who you are or ask what you need, and the time stops while we wait; for a complex request we may take up to two months more, and we tell you why within the first month."</p>
                <a class="nhsuk-button" href="/account/requests/new" role="button" draggable="false">"Ask for a copy of your data"</a>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || requests.get().map(|result| match result {
                        Ok(list) if list.is_empty() => view! { <p>"You have not asked for a copy yet."</p> }.into_any(),
                        Ok(list) => view! {
                            {list.into_iter().map(|request| view! {
                                <h2>{format!("Request received {}", request.received)}</h2>
                                <RequestSummary request=request.clone()/>
                                <History history=request.history/>
                            }).collect_view()}
                        }.into_any(),
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

/// Ask for a copy of your data.
#[component]
pub fn NewRequestPage() -> impl IntoView {
    let state = FormState::of("request");
    let scope = vec![
        (
            "everything".to_owned(),
            "Everything in the portal about me".to_owned(),
        ),
        ("some".to_owned(), "Only some parts".to_owned()),
    ];
    let ticked = |field: &str| state.as_ref().is_some_and(|s| s.values.contains_key(field));
    let sections_problem = state.as_ref().and_then(|s| s.problem("appointments"));
    view! {
        <Title text="Ask for a copy of your data - Your health record"/>
        <BackLink href="/account/requests" label="Back to copies of your data"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary state=state.clone()/>
                <h1>"Ask for a copy of your data"</h1>
                <form method="post" action="/account/requests/new" novalidate=true>
                    <CsrfField/>
                    <RadioField name="scope" legend="What do you want a copy of?" options=scope state=state.clone()/>
                    <div class=if sections_problem.is_some() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" }>
                        <fieldset class="nhsuk-fieldset">
                            <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"If only some parts, which?"</legend>
                            {sections_problem.clone().map(|p| view! { <span class="nhsuk-error-message"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span> })}
                            <div class="nhsuk-checkboxes">
                                {[("appointments", "Appointments"), ("letters", "Letters and documents"), ("results", "Test results")].into_iter().map(|(name, label)| view! {
                                    <div class="nhsuk-checkboxes__item">
                                        <input class="nhsuk-checkboxes__input" id=name name=name type="checkbox" value="yes" checked=ticked(name)/>
                                        <label class="nhsuk-label nhsuk-checkboxes__label" for=name>{label}</label>
                                    </div>
                                }).collect_view()}
                            </div>
                        </fieldset>
                    </div>
                    <DateField prefix="from" legend="From (optional)" hint="Leave blank for everything from the start" state=state.clone()/>
                    <DateField prefix="to" legend="To (optional)" hint="Leave blank for everything up to today" state=state.clone()/>
                    <TextField name="note" label="Anything else we should know (optional)" state=state.clone()/>
                    <button class="nhsuk-button" type="submit">"Send request"</button>
                </form>
            </div>
        </div>
    }
}

/// The desk's queue of requests.
#[component]
pub fn DeskRequestsPage() -> impl IntoView {
    let queue = OnceResource::new(list_desk_requests());
    view! {
        <Title text="Requests for copies of data - Service desk - Your health record"/>
        <DeskNav/>
        <h1>"Requests for copies of data"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || queue.get().map(|result| match result {
                Ok(list) if list.is_empty() => view! { <p>"There are no open requests."</p> }.into_any(),
                Ok(list) => view! {
                    <table class="nhsuk-table">
                        <caption class="nhsuk-table__caption">{format!("{} open, soonest due first", list.len())}</caption>
                        <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                            <th class="nhsuk-table__header" scope="col">"Due by"</th>
                            <th class="nhsuk-table__header" scope="col">"Received"</th>
                            <th class="nhsuk-table__header" scope="col">"Status"</th>
                            <th class="nhsuk-table__header" scope="col">"Urgency"</th>
                        </tr></thead>
                        <tbody class="nhsuk-table__body">
                            {list.into_iter().map(|r| {
                                let href = format!("/staff/requests/{}", r.request.public_id);
                                let tag = if r.is_overdue { "nhsuk-tag nhsuk-tag--red" } else if r.is_due_soon { "nhsuk-tag nhsuk-tag--orange" } else { "nhsuk-tag nhsuk-tag--grey" };
                                view! {
                                    <tr class="nhsuk-table__row">
                                        <td class="nhsuk-table__cell"><a href=href>{r.request.due.clone().unwrap_or_default()}</a></td>
                                        <td class="nhsuk-table__cell">{r.request.received.clone()}</td>
                                        <td class="nhsuk-table__cell">{r.request.state.clone()}</td>
                                        <td class="nhsuk-table__cell"><strong class=tag>{r.urgency.clone()}</strong></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

/// One request, for the desk.
#[component]
pub fn DeskRequestPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    let request = OnceResource::new(get_desk_request(id));
    view! {
        <Title text="A request for a copy of data - Service desk - Your health record"/>
        <DeskNav/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || request.get().map(|result| match result {
                Ok(request) => view! { <DeskRequest request/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskRequest(request: DeskRequestView) -> impl IntoView {
    let state = FormState::of("desk-request");
    let action = format!("/staff/requests/{}", request.request.public_id);
    let mut actions = request.actions.clone();
    if request.can_extend {
        actions.push((
            "extend".to_owned(),
            "Extend the time limit (complex request)".to_owned(),
        ));
    }
    let months = vec![
        ("1".to_owned(), "1 more month".to_owned()),
        ("2".to_owned(), "2 more months".to_owned()),
    ];
    view! {
        <ErrorSummary state=state.clone()/>
        <h1>"Request for a copy of data"</h1>
        <p><strong class=if request.is_overdue { "nhsuk-tag nhsuk-tag--red" } else if request.is_due_soon { "nhsuk-tag nhsuk-tag--orange" } else { "nhsuk-tag nhsuk-tag--grey" }>{request.urgency.clone()}</strong></p>
        <RequestSummary request=request.request.clone()/>
        {request.request.is_open.then(|| view! {
            <h2>"Move this request on"</h2>
            <form method="post" action=action novalidate=true>
                <StaffCsrfField/>
                <RadioField name="action" legend="What do you want to do?" options=actions state=state.clone()/>
                <TextField name="reason" label="What the requester is told" hint="Needed to refuse or extend. A refusal also tells them of their right to complain to the ICO." state=state.clone()/>
                <RadioField name="months" legend="If extending, by how long?" options=months state=state.clone()/>
                <button class="nhsuk-button" type="submit">"Record"</button>
            </form>
        })}
        <History history=request.request.history/>
    }
}
