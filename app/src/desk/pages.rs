//! The service desk console's pages, for staff with the service desk role; every form
//! is a plain POST to the page's own address, so all of it works without JavaScript.
//!
//! - `/staff`: what is waiting in each queue, and the console's navigation;
//! - `/staff/patients`: find a patient by NHS number and date of birth, with a reason;
//! - `/staff/patients/{lookup}`: the patient's account, choices, grants and open
//!   requests (never clinical content), recording a choice on their behalf, unlinking
//!   an account;
//! - `/staff/held-items` and `/staff/held-items/{id}`: feed items whose patient could
//!   not be identified, filtered by sender and paged; match one to a patient or send it
//!   back.
//!
//! The proxy queues (`/staff/proxy-applications`, `/staff/proxy-reviews`) and a grant's
//! page (`/staff/proxy-grants/{id}`, linked from the patient's page) are
//! `crate::proxy::pages`, reached from the same navigation.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use crate::choices::pages::History;
use crate::components::forms::{ErrorSummary, FormState, StaffCsrfField, TextField};
use crate::pages::ProblemPage;
use crate::proxy::pages::{BackLink, DateField, RadioField};

/// The console's navigation, on every console page.
#[component]
pub fn DeskNav() -> impl IntoView {
    let links = [
        ("/staff", "Service desk home"),
        ("/staff/patients", "Find a patient"),
        ("/staff/proxy-applications", "Proxy applications"),
        ("/staff/held-items", "Held feed items"),
        ("/staff/requests", "Requests for copies of data"),
        ("/staff/proxy-reviews", "Parents' access to review"),
    ];
    view! {
        <nav class="nhsuk-u-margin-bottom-4" aria-label="Service desk">
            <ul class="nhsuk-list nhsuk-u-margin-bottom-0">
                {links.into_iter().map(|(href, label)| view! { <li><a href=href>{label}</a></li> }).collect_view()}
            </ul>
        </nav>
    }
}

/// The console's front page for a signed-in agent: each queue with its count.
#[component]
pub fn DeskHomePanel() -> impl IntoView {
    let home = OnceResource::new(get_desk_home());
    view! {
        <h1>"Service desk"</h1>
        <DeskNav/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || home.get().map(|result| match result {
                Ok(home) => view! {
                    <p>"You are signed in as service desk staff."</p>
                    <ul class="nhsuk-grid-row nhsuk-card-group">
                        <DeskCard href="/staff/patients" heading="Find a patient".to_owned()
                            text="Look up a patient by NHS number and date of birth to help with their account, choices or proxies.".to_owned()/>
                        <DeskCard href="/staff/proxy-applications" heading=format!("Proxy applications ({})", home.applications_waiting)
                            text="Parents, attorneys and deputies waiting for their evidence to be checked.".to_owned()/>
                        <DeskCard href="/staff/held-items" heading=format!("Held feed items ({})", home.held_items_waiting)
                            text="Records whose patient could not be identified.".to_owned()/>
                        <DeskCard href="/staff/proxy-reviews" heading=format!("Parents' access to review ({})", home.reviews_due)
                            text="Children between the review ages.".to_owned()/>
                    </ul>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskCard(href: &'static str, heading: String, text: String) -> impl IntoView {
    view! {
        <li class="nhsuk-grid-column-one-half nhsuk-card-group__item">
            <div class="nhsuk-card nhsuk-card--clickable">
                <div class="nhsuk-card__content">
                    <h2 class="nhsuk-card__heading nhsuk-heading-m"><a class="nhsuk-card__link" href=href>{heading}</a></h2>
                    <p class="nhsuk-card__description">{text}</p>
                </div>
            </div>
        </li>
    }
}

/// Find a patient.
#[component]
pub fn FindPatientPage() -> impl IntoView {
    // The form reveals nothing, but the console is for the service desk only.
    let desk = OnceResource::new(get_desk_home());
    view! {
        <Title text="Find a patient - Service desk - Your health record"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || desk.get().map(|result| match result {
                Ok(_) => view! { <FindPatientForm/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn FindPatientForm() -> impl IntoView {
    let state = FormState::of("find");
    let reasons = reason_options();
    view! {
        <DeskNav/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary state=state.clone()/>
                <h1>"Find a patient"</h1>
                <p>"Every look-up is recorded with your name and the reason you give, and the patient can see it."</p>
                <form method="post" action="/staff/patients" novalidate=true>
                    <StaffCsrfField/>
                    <TextField name="nhs-number" label="NHS number" hint="10 digits, for example 999 000 7128" width_class="nhsuk-input--width-10" state=state.clone()/>
                    <DateField prefix="birth-date" legend="Date of birth" hint="For example, 15 3 1984" state=state.clone()/>
                    <RadioField name="reason" legend="Why are you looking at this record?" options=reasons state=state.clone()/>
                    <button class="nhsuk-button" type="submit">"Find patient"</button>
                </form>
            </div>
        </div>
    }
}

#[cfg(feature = "ssr")]
fn reason_options() -> Vec<(String, String)> {
    crate::server::desk::lookup_reasons()
}

#[cfg(not(feature = "ssr"))]
fn reason_options() -> Vec<(String, String)> {
    Vec::new()
}

fn row(key: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">{key}</dt>
            <dd class="nhsuk-summary-list__value">{value}</dd>
        </div>
    }
}

/// A patient the agent looked up.
#[component]
pub fn DeskPatientPage() -> impl IntoView {
    let lookup = use_params_map().with_untracked(|p| p.get("lookup").unwrap_or_default());
    let patient = OnceResource::new(get_desk_patient(lookup));
    view! {
        <Title text="A patient - Service desk - Your health record"/>
        <DeskNav/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || patient.get().map(|result| match result {
                Ok(patient) => view! { <DeskPatient patient/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskPatient(patient: DeskPatientView) -> impl IntoView {
    let choice_state = FormState::of("desk-choice");
    let unlink_state = FormState::of("unlink");
    let action = format!("/staff/patients/{}", patient.lookup);
    let mut choices = Vec::new();
    if patient.has_left {
        choices.push(("return".to_owned(), "Come back to the portal".to_owned()));
    } else {
        choices.push(("leave".to_owned(), "Leave the portal".to_owned()));
    }
    choices.push((
        "object".to_owned(),
        "Stop showing records from an organisation".to_owned(),
    ));
    choices.push((
        "withdraw".to_owned(),
        "Show records from an organisation again".to_owned(),
    ));
    let channels = vec![
        ("post".to_owned(), "By post".to_owned()),
        ("phone".to_owned(), "By phone".to_owned()),
        ("in_person".to_owned(), "In person".to_owned()),
    ];
    let chosen_source = choice_state
        .as_ref()
        .map(|s| s.value("source"))
        .unwrap_or_default();
    let source_problem = choice_state.as_ref().and_then(|s| s.problem("source"));
    let source_group = if source_problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    let objections: Vec<String> = patient
        .sources
        .iter()
        .filter(|s| s.objected)
        .map(|s| s.name.clone())
        .collect();
    let status = if patient.has_left {
        format!(
            "Left the portal on {}",
            patient.left_on.clone().unwrap_or_default()
        )
    } else {
        "Using the portal".to_owned()
    };
    view! {
        <ErrorSummary state=choice_state.clone()/>
        <ErrorSummary state=unlink_state.clone()/>
        <h1>{patient.name.clone()}</h1>
        <dl class="nhsuk-summary-list">
            {row("NHS number", patient.nhs_number.clone())}
            {row("Date of birth", patient.birth_date.clone())}
            {row("Why you are looking", patient.reason.clone())}
            {row("Portal", status)}
            {row("Organisations not shown", if objections.is_empty() { "None".to_owned() } else { objections.join(", ") })}
        </dl>

        <h2>"NHS login account"</h2>
        {if patient.accounts.is_empty() {
            view! { <p>"No NHS login account is linked to this record. The patient's next sign-in links one by NHS number."</p> }.into_any()
        } else {
            view! {
                {patient.accounts.iter().map(|a| view! {
                    <dl class="nhsuk-summary-list">
                        {row("Account", a.reference.clone())}
                        {row("Identity level", a.identity_level.clone())}
                        {row("Linked since", a.created.clone())}
                        {row("Last signed in", a.last_sign_in.clone().unwrap_or_else(|| "Never".to_owned()))}
                    </dl>
                }).collect_view()}
                <details class="nhsuk-details">
                    <summary class="nhsuk-details__summary"><span class="nhsuk-details__summary-text">"Unlink an account (wrong match)"</span></summary>
                    <div class="nhsuk-details__text">
                        <form method="post" action=action.clone() novalidate=true>
                            <StaffCsrfField/>
                            <input type="hidden" name="form" value="unlink"/>
                            <RadioField name="account" legend="Account" options=patient.accounts.iter().map(|a| (a.reference.clone(), format!("Account {}", a.reference))).collect() state=unlink_state.clone()/>
                            <TextField name="unlink-reason" label="Reason for unlinking" hint="For the audit trail." state=unlink_state.clone()/>
                            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Unlink account"</button>
                        </form>
                    </div>
                </details>
            }.into_any()
        }}

        <h2>"People who can see this record"</h2>
        {if patient.grants.is_empty() {
            view! { <p>"Nobody can see this record on the patient's behalf."</p> }.into_any()
        } else {
            view! {
                <ul class="nhsuk-list">
                    {patient.grants.iter().map(|g| {
                        let href = format!("/staff/proxy-grants/{}", g.public_id);
                        view! { <li><a href=href>{g.name.clone()}</a>{format!(" ({}, {}): {}", g.relationship, g.basis, g.status)}</li> }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}

        <h2>"Open requests"</h2>
        {if patient.open_requests.is_empty() {
            view! { <p>"None."</p> }.into_any()
        } else {
            view! { <ul class="nhsuk-list">{patient.open_requests.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul> }.into_any()
        }}

        <h2>"Record a choice for the patient"</h2>
        <form method="post" action=action novalidate=true>
            <StaffCsrfField/>
            <input type="hidden" name="form" value="desk-choice"/>
            <RadioField name="choice" legend="What did the patient choose?" options=choices state=choice_state.clone()/>
            <div class=source_group>
                <label class="nhsuk-label" for="source">"Organisation (for stopping or showing records)"</label>
                {source_problem.map(|p| view! { <span class="nhsuk-error-message" id="source-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span> })}
                <select class="nhsuk-select" id="source" name="source">
                    <option value="">"Choose an organisation"</option>
                    {patient.sources.iter().map(|s| {
                        let selected = s.ods_code == chosen_source;
                        let label = if s.objected { format!("{} (not shown)", s.name) } else { s.name.clone() };
                        view! { <option value=s.ods_code.clone() selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <RadioField name="channel" legend="How did the patient tell us?" options=channels state=choice_state.clone()/>
            <TextField name="evidence" label="Evidence reference" hint="The reference of the letter, call or visit" state=choice_state.clone()/>
            <TextField name="reason" label="Reason" hint="The patient sees this in the history of their choices." state=choice_state.clone()/>
            <button class="nhsuk-button" type="submit">"Record choice"</button>
        </form>
        <History lines=patient.history/>
        <h2>"Requests for a copy of their data"</h2>
        {if patient.access_requests.is_empty() {
            view! { <p>"None."</p> }.into_any()
        } else {
            view! {
                <ul class="nhsuk-list">
                    {patient.access_requests.iter().map(|(id, summary)| view! {
                        <li><a href=format!("/staff/requests/{id}")>{summary.clone()}</a></li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <crate::sar::pages::LogRequestForm lookup=patient.lookup.clone()/>
    }
}

/// The held feed items queue.
#[component]
pub fn HeldItemsPage() -> impl IntoView {
    let query = use_query_map();
    let sender = query.with_untracked(|q| q.get("sender").unwrap_or_default());
    let page = query.with_untracked(|q| q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1));
    let queue = OnceResource::new(list_held_items(sender, page));
    view! {
        <Title text="Held feed items - Service desk - Your health record"/>
        <DeskNav/>
        <h1>"Held feed items"</h1>
        <p>"Records a sender could not link to a patient. Check the identifiers with the sender before matching one to a patient; you never see what the record says."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || queue.get().map(|result| match result {
                Ok(queue) => view! { <HeldQueue queue/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn HeldQueue(queue: HeldQueueView) -> impl IntoView {
    let sender = queue.sender.clone().unwrap_or_default();
    let link = |page| page_link("/staff/held-items", ("sender", &sender), page);
    let previous = (queue.page > 1).then(|| link(queue.page - 1));
    let next = (queue.page < queue.pages).then(|| link(queue.page + 1));
    view! {
        <ListFilter action="/staff/held-items" name="sender" label="Sender" everything="All senders"
            options=queue.senders.clone() chosen=sender.clone()/>
        {if queue.items.is_empty() {
            view! { <p>"There are no held items."</p> }.into_any()
        } else {
            view! {
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption">{format!("{} waiting, oldest first (page {} of {})", queue.total, queue.page, queue.pages)}</caption>
                    <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"Received"</th>
                        <th class="nhsuk-table__header" scope="col">"Sender"</th>
                        <th class="nhsuk-table__header" scope="col">"Type"</th>
                        <th class="nhsuk-table__header" scope="col">"Identifiers"</th>
                    </tr></thead>
                    <tbody class="nhsuk-table__body">
                        {queue.items.into_iter().map(|item| {
                            let href = format!("/staff/held-items/{}", item.public_id);
                            view! {
                                <tr class="nhsuk-table__row">
                                    <td class="nhsuk-table__cell"><a href=href>{item.received.clone()}</a></td>
                                    <td class="nhsuk-table__cell">{item.sender.clone()}</td>
                                    <td class="nhsuk-table__cell">{item.resource_type.clone()}</td>
                                    <td class="nhsuk-table__cell">{item.identifiers.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>().join(", ")}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <Pagination previous next label="Pages of held items"/>
    }
}

/// The agent's word that the sender confirmed whom a held item is about: needed when
/// the item does not carry the NHS number it is matched to (a mistyped one, say).
#[component]
fn ConfirmedBySender(state: Option<FormState>) -> impl IntoView {
    let problem = state.as_ref().and_then(|s| s.problem("confirmed"));
    let ticked = state
        .as_ref()
        .is_some_and(|s| s.value("confirmed") == "yes");
    let group = if problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    view! {
        <div class=group>
            <fieldset class="nhsuk-fieldset" aria-describedby="confirmed-hint">
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"If the item does not carry this NHS number"</legend>
                <div class="nhsuk-hint" id="confirmed-hint">"For example, when the sender mistyped it. Match it only if the sender told you whom it is about."</div>
                {problem.map(|p| view! {
                    <span class="nhsuk-error-message" id="confirmed-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span>
                })}
                <div class="nhsuk-checkboxes">
                    <div class="nhsuk-checkboxes__item">
                        <input class="nhsuk-checkboxes__input" id="confirmed" name="confirmed" type="checkbox" value="yes" checked=ticked/>
                        <label class="nhsuk-label nhsuk-checkboxes__label" for="confirmed">"The sender confirmed this item is about this patient"</label>
                    </div>
                </div>
            </fieldset>
        </div>
    }
}

/// A desk list's filter: one choice, sent as a GET form so the filtered list has an
/// address of its own and works without JavaScript.
#[component]
pub fn ListFilter(
    action: &'static str,
    name: &'static str,
    label: &'static str,
    everything: &'static str,
    options: Vec<(String, String)>,
    chosen: String,
) -> impl IntoView {
    view! {
        <form method="get" action=action>
            <div class="nhsuk-form-group">
                <label class="nhsuk-label" for=name>{label}</label>
                <select class="nhsuk-select" id=name name=name>
                    <option value="">{everything}</option>
                    {options.into_iter().map(|(value, text)| {
                        let selected = value == chosen;
                        view! { <option value=value selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Filter"</button>
        </form>
    }
}

/// The address of page `page` of a desk list at `path`, keeping its filter.
pub fn page_link(path: &str, filter: (&str, &str), page: u32) -> String {
    let (name, value) = filter;
    if value.is_empty() {
        format!("{path}?page={page}")
    } else {
        format!("{path}?{name}={value}&page={page}")
    }
}

/// "Previous" and "Next" links between the pages of a desk list, as the design system
/// draws them; nothing when the list fits on one page.
#[component]
pub fn Pagination(
    previous: Option<String>,
    next: Option<String>,
    label: &'static str,
) -> impl IntoView {
    (previous.is_some() || next.is_some()).then(|| view! {
        <nav class="nhsuk-pagination" role="navigation" aria-label=label>
            <ul class="nhsuk-list nhsuk-pagination__list">
                {previous.map(|href| view! { <li class="nhsuk-pagination-item--previous"><a class="nhsuk-pagination__link nhsuk-pagination__link--prev" href=href><span class="nhsuk-pagination__title">"Previous"</span><span class="nhsuk-u-visually-hidden">":"</span> <span class="nhsuk-pagination__page">"Previous page"</span></a></li> })}
                {next.map(|href| view! { <li class="nhsuk-pagination-item--next"><a class="nhsuk-pagination__link nhsuk-pagination__link--next" href=href><span class="nhsuk-pagination__title">"Next"</span><span class="nhsuk-u-visually-hidden">":"</span> <span class="nhsuk-pagination__page">"Next page"</span></a></li> })}
            </ul>
        </nav>
    })
}

/// One held item, and the desk's decision about it.
#[component]
pub fn HeldItemPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    let item = OnceResource::new(get_held_item(id));
    view! {
        <Title text="A held feed item - Service desk - Your health record"/>
        <BackLink href="/staff/held-items" label="Back to held items"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || item.get().map(|result| match result {
                Ok(item) => view! { <HeldItem item/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn HeldItem(item: HeldItemView) -> impl IntoView {
    let state = FormState::of("resolve");
    let action = format!("/staff/held-items/{}", item.public_id);
    let options = vec![
        ("match".to_owned(), "Match it to a patient".to_owned()),
        (
            "return".to_owned(),
            "Send it back to the sender as unmatched".to_owned(),
        ),
    ];
    view! {
        <ErrorSummary state=state.clone()/>
        <h1>{format!("{} from {}", item.resource_type, item.sender)}</h1>
        <dl class="nhsuk-summary-list">
            {row("Sender", format!("{} ({})", item.sender, item.sender_ods_code))}
            {row("Type", item.resource_type.clone())}
            {row("Received", item.received.clone())}
            {row("Why it was held", item.why.clone())}
            {item.identifiers.iter().map(|(what, value)| view! {
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">{what.clone()}</dt>
                    <dd class="nhsuk-summary-list__value">{value.clone()}</dd>
                </div>
            }).collect_view()}
            {item.resolution.clone().map(|r| row("Resolved", r))}
        </dl>
        {item.resolution.is_none().then(|| view! {
            <h2>"What to do with it"</h2>
            <p>"Match it only after checking its identifiers with the sender. Once matched it goes through the usual rules: it is shown to the patient only when those allow."</p>
            <form method="post" action=action novalidate=true>
                <StaffCsrfField/>
                <RadioField name="resolution" legend="Your decision" options=options state=state.clone()/>
                <h3>"If you are matching it"</h3>
                <TextField name="nhs-number" label="Patient's NHS number" width_class="nhsuk-input--width-10" state=state.clone()/>
                <DateField prefix="birth-date" legend="Patient's date of birth" hint="For example, 15 3 1984" state=state.clone()/>
                <ConfirmedBySender state=state.clone()/>
                <TextField name="reason" label="Reason" hint="What you checked, and with whom. For the audit trail." state=state.clone()/>
                <button class="nhsuk-button" type="submit">"Record decision"</button>
            </form>
        })}
    }
}
