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
use crate::site::current_site_info;

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
            {row("Reference", request.reference.clone())}
            {row("Received", request.received.clone())}
            {row("What it covers", request.scope.clone())}
            {request.note.clone().map(|n| row("Note", n))}
            {row("Status", request.state.clone())}
            {request.due.clone().map(|d| row("Due by", d))}
        </dl>
    }
}

/// A fulfilled request's answer: the downloads while they last, or what to do after.
#[component]
fn Answer(request: RequestView) -> impl IntoView {
    let id = request.public_id.clone();
    match (request.is_open, request.answer_until.clone()) {
        (true, _) => None,
        (false, Some(until)) => Some(view! {
            <p>{format!("Your copy is ready. You can download it until {until}.")}</p>
            <ul class="nhsuk-list nhsuk-list--bullet">
                <li><a href=format!("/account/requests/{id}/answer.pdf") download="">"Your copy (PDF)"</a></li>
                <li><a href=format!("/account/requests/{id}/answer.html") download="">"Your copy (web page)"</a></li>
                <li><a href=format!("/account/requests/{id}/answer.json") download="">"Your copy for other health apps and systems (FHIR R4, JSON)"</a></li>
            </ul>
        }.into_any()),
        (false, None) if request.state == "Ready" => Some(view! {
            <p>"The time to download this copy has ended. Contact the service desk if you need it again, or download your record as it is now."</p>
        }.into_any()),
        (false, None) => None,
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
                            {list.into_iter().map(|request| {
                                let heading = format!("request-{}", request.reference);
                                let labelled_by = heading.clone();
                                view! {
                                    <section aria-labelledby=labelled_by>
                                        <h2 id=heading>
                                            {format!("Request received {}", request.received)}
                                            <span class="nhsuk-u-visually-hidden">{format!(", reference {}", request.reference)}</span>
                                        </h2>
                                        <RequestSummary request=request.clone()/>
                                        <Answer request=request.clone()/>
                                        <History history=request.history/>
                                    </section>
                                }
                            }).collect_view()}
                        }.into_any(),
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

/// What a request covers: everything or some parts, a date range and a note. Shared by
/// the requester's form and the desk's form for a request that came another way.
#[component]
fn RequestFields(state: Option<FormState>, who: &'static str) -> impl IntoView {
    let scope = vec![
        (
            "everything".to_owned(),
            format!("Everything in the portal about {who}"),
        ),
        ("some".to_owned(), "Only some parts".to_owned()),
    ];
    let ticked = |field: &str| state.as_ref().is_some_and(|s| s.values.contains_key(field));
    let sections_problem = state.as_ref().and_then(|s| s.problem("appointments"));
    view! {
        <RadioField name="scope" legend="What is the copy of?" options=scope state=state.clone()/>
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
    }
}

/// Ask for a copy of your data. The form names the record it was opened for, so that
/// switching to another person's record in another tab cannot file it for them.
#[component]
pub fn NewRequestPage() -> impl IntoView {
    let form = OnceResource::new(get_request_form());
    view! {
        <Title text="Ask for a copy of your data - Your health record"/>
        <BackLink href="/account/requests" label="Back to copies of your data"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || form.get().map(|result| match result {
                        Ok(form) => {
                            let state = FormState::of("request");
                            view! {
                                <ErrorSummary state=state.clone()/>
                                <h1>"Ask for a copy of your data"</h1>
                                {form.for_name.clone().map(|name| view! {
                                    <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span>
                                        <p>{format!("You are asking for a copy of {name}'s data. It will hold only what your access to their record lets you see.")}</p>
                                    </div>
                                })}
                                <form method="post" action="/account/requests/new" novalidate=true>
                                    <CsrfField/>
                                    <input type="hidden" name="record" value=form.record.clone()/>
                                    <RequestFields state=state.clone() who="me"/>
                                    <button class="nhsuk-button" type="submit">"Send request"</button>
                                </form>
                            }.into_any()
                        }
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

/// The desk's form for a request that came by post, phone or email, on the patient's
/// page: it then waits for proof of identity, with the clock paused.
#[component]
pub fn LogRequestForm(lookup: String) -> impl IntoView {
    let state = FormState::of("log-request");
    let channels = vec![
        ("post".to_owned(), "By post".to_owned()),
        ("phone".to_owned(), "By phone".to_owned()),
        ("email".to_owned(), "By email".to_owned()),
    ];
    view! {
        <h2>"Log a request for a copy of their data"</h2>
        <p>"For a request that came by post, phone or email. It waits for proof of identity, and the time limit does not run until identity is confirmed."</p>
        <ErrorSummary state=state.clone()/>
        <form method="post" action=format!("/staff/patients/{lookup}") novalidate=true>
            <StaffCsrfField/>
            <input type="hidden" name="form" value="log-request"/>
            <RadioField name="channel" legend="How did the request come?" options=channels state=state.clone()/>
            <DateField prefix="received" legend="The date it was received" hint="For example, 15 3 2027" state=state.clone()/>
            <RequestFields state=state.clone() who="them"/>
            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Log the request"</button>
        </form>
    }
}

/// Download a copy of the record: what the reader can see now, in three formats. Someone
/// acting for another person is told whose record it is and that their access bounds it.
#[component]
pub fn DownloadRecordPage() -> impl IntoView {
    let acting_for = current_site_info().patient.and_then(|p| p.acting_for);
    let whose = acting_for
        .as_ref()
        .map_or_else(|| "your".to_owned(), |name| format!("{name}'s"));
    let heading = format!("Download {whose} record");
    let about = format!(
        "You can download a copy of everything you can see in {whose} record now, at any time. It is made when you ask for it."
    );
    // The tab title, kept in the browser's history, names nobody.
    let title = if acting_for.is_some() {
        "Download their record - Your health record"
    } else {
        "Download your record - Your health record"
    };
    // Someone acting for another person is not sent to a request for a copy of that
    // person's data: who may ask depends on the kind of access (docs/subject-access.md),
    // and the overview offers it to patients alone.
    let after = match acting_for {
        Some(name) => view! {
            <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>{format!("Test results not yet released to {name} are not in it, and it holds only what your access to their record lets you see.")}</p>
            </div>
            <p>{format!("Keep the copy safe: it holds health information. Each download is recorded, and {name} can see it.")}</p>
        }.into_any(),
        None => view! {
            <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>"Test results not yet released to you are not in it."</p>
            </div>
            <p>"Keep the copy safe: it holds health information. Each download is recorded in "<a href="/account/access-log">"who has seen your record"</a>"."</p>
            <p>"To ask for a copy of all the information held about you, checked by our team, "<a href="/account/requests">"ask for a copy of your data"</a>"."</p>
        }.into_any(),
    };
    view! {
        <Title text=title/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>{heading}</h1>
                <p>{about}</p>
                <ul class="nhsuk-list nhsuk-list--bullet">
                    <li><a href="/account/download/record.pdf" download="">"A readable copy (PDF)"</a></li>
                    <li><a href="/account/download/record.html" download="">"A readable copy (web page)"</a></li>
                    <li><a href="/account/download/record.json" download="">"A copy for other health apps and systems (FHIR R4, JSON)"</a></li>
                </ul>
                {after}
            </div>
        </div>
    }
}

/// The clinical review of a request: each item the answer would hold, included or
/// withheld for serious harm or third-party information, with the reviewer and reason.
#[component]
pub fn ReviewPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    let review = OnceResource::new(get_request_review(id));
    view! {
        <Title text="Clinical review of a request - Service desk - Your health record"/>
        <DeskNav/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || review.get().map(|result| match result {
                Ok(review) => view! { <Review review/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Review(review: ReviewView) -> impl IntoView {
    let state = FormState::of("review");
    let action = format!("/staff/requests/{}/review", review.public_id);
    let back = format!("/staff/requests/{}", review.public_id);
    let chosen = |id: &str, saved: &str| {
        state
            .as_ref()
            .map(|s| s.value(&format!("ground-{id}")))
            .unwrap_or_else(|| saved.to_owned())
    };
    let reviewer = state
        .as_ref()
        .map(|s| s.value("reviewer"))
        .unwrap_or(review.reviewer.clone());
    let reason = state
        .as_ref()
        .map(|s| s.value("reason"))
        .unwrap_or(review.reason.clone());
    let reviewer_problem = state.as_ref().and_then(|s| s.problem("reviewer"));
    let reason_problem = state.as_ref().and_then(|s| s.problem("reason"));
    let group = |problem: &Option<String>| {
        if problem.is_some() {
            "nhsuk-form-group nhsuk-form-group--error"
        } else {
            "nhsuk-form-group"
        }
    };
    let reviewer_class = group(&reviewer_problem);
    let reason_class = group(&reason_problem);
    view! {
        <div class="nhsuk-back-link"><a class="nhsuk-back-link__link" href=back>"Back to the request"</a></div>
        <ErrorSummary state=state.clone()/>
        <h1>"Clinical review"</h1>
        <p>"A health professional checks each item before the answer is sent. Withhold an item only if showing it would be likely to cause serious harm to the physical or mental health of the patient or someone else, or if it identifies another person who has not agreed and whom it would not be reasonable to name."</p>
        <p>"Withholding an item also withholds the items sent with it (a report's results, and the letter of it), as the record shows them together. Anything that arrives or changes before the answer is sent needs the review again."</p>
        {review.recorded.then(|| view! { <p><strong class="nhsuk-tag nhsuk-tag--green">"Review recorded"</strong></p> })}
        <form method="post" action=action novalidate=true>
            <StaffCsrfField/>
            <input type="hidden" name="items" value=review.items_digest.clone()/>
            {if review.items.is_empty() {
                view! { <p>"The answer would hold no items."</p> }.into_any()
            } else {
                view! {
                    <table class="nhsuk-table">
                        <caption class="nhsuk-table__caption">{format!("{} items the answer would hold", review.items.len())}</caption>
                        <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                            <th class="nhsuk-table__header" scope="col">"Item"</th>
                            <th class="nhsuk-table__header" scope="col">"From"</th>
                            <th class="nhsuk-table__header" scope="col">"Decision"</th>
                        </tr></thead>
                        <tbody class="nhsuk-table__body">
                            {review.items.iter().map(|item| {
                                let name = format!("ground-{}", item.public_id);
                                let value = chosen(&item.public_id, &item.withheld);
                                view! {
                                    <tr class="nhsuk-table__row">
                                        <td class="nhsuk-table__cell">{item.title.clone()}<br/><span class="nhsuk-body-s">{format!("{}, {}", item.section, item.date)}</span></td>
                                        <td class="nhsuk-table__cell">{item.source.clone()}</td>
                                        <td class="nhsuk-table__cell">
                                            <label class="nhsuk-label nhsuk-u-visually-hidden" for=name.clone()>{format!("Decision for {}", item.title)}</label>
                                            <select class="nhsuk-select" id=name.clone() name=name.clone()>
                                                <option value="" selected=value.is_empty()>"Include"</option>
                                                <option value="serious_harm" selected=value == "serious_harm">"Withhold: serious harm"</option>
                                                <option value="third_party" selected=value == "third_party">"Withhold: about another person"</option>
                                            </select>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <div class=reviewer_class>
                <label class="nhsuk-label" for="reviewer">"The clinical reviewer's name and role"</label>
                {reviewer_problem.map(|p| view! { <span class="nhsuk-error-message" id="reviewer-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span> })}
                <input class="nhsuk-input" id="reviewer" name="reviewer" type="text" value=reviewer autocomplete="off"/>
            </div>
            <div class=reason_class>
                <label class="nhsuk-label" for="reason">"Why items are withheld (kept with the request, not sent)"</label>
                {reason_problem.map(|p| view! { <span class="nhsuk-error-message" id="reason-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span> })}
                <textarea class="nhsuk-textarea" id="reason" name="reason" rows="3">{reason}</textarea>
            </div>
            <button class="nhsuk-button" type="submit">"Record the review"</button>
        </form>
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
                            <th class="nhsuk-table__header" scope="col">"Reference"</th>
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
                                        <td class="nhsuk-table__cell"><a href=href>{r.request.reference.clone()}</a></td>
                                        <td class="nhsuk-table__cell">{r.request.due.clone().unwrap_or_default()}</td>
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
        <p>{format!("Asked {}", match request.channel.as_str() { "online" => "online, through a verified NHS login session", "post" => "by post", "phone" => "by phone", "email" => "by email", _ => "" })}</p>
        {request.in_review.then(|| view! {
            <h2>"Clinical review"</h2>
            <p>{if request.reviewed { "The review has been recorded: the answer can be sent." } else { "A health professional must review the items before the answer is sent." }}</p>
            <p><a href=format!("/staff/requests/{}/review", request.request.public_id)>{if request.reviewed { "Change the review" } else { "Record the clinical review" }}</a></p>
        })}
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
