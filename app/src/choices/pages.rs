//! "Your choices" and its confirm steps, rendered on the server; every change is a plain
//! POST of a confirm page to its own address, so all of it works without JavaScript.
//!
//! - `/account/choices`: each choice in plain English (what it changes and what it does
//!   not), its state now, and the history of the patient's choices;
//! - `/account/choices/leave` and `/account/choices/return`: leaving and coming back
//!   (people whose access the leaving paused are offered back, one by one);
//! - `/account/choices/object?source=…` and `/account/choices/withdraw?source=…`: stop
//!   or start showing one organisation's records.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::{ChoiceHistoryLine, ChoicesView, get_my_choices};
use super::rules::NATIONAL_DATA_OPT_OUT_URL;
use crate::components::forms::{CsrfField, ErrorSummary, FormState};
use crate::pages::ProblemPage;
use crate::proxy::pages::BackLink;

/// Loads the patient's choices and renders `body` with them, or the problem.
fn with_choices<V: IntoView + 'static>(
    body: impl Fn(ChoicesView) -> V + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let choices = OnceResource::new(get_my_choices());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || choices.get().map(|result| match result {
                Ok(view) => body(view).into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

/// "Your choices".
#[component]
pub fn ChoicesPage() -> impl IntoView {
    view! {
        <Title text="Your choices - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Your choices"</h1>
                {with_choices(|choices| view! { <Choices choices/> })}
            </div>
        </div>
    }
}

#[component]
fn Choices(choices: ChoicesView) -> impl IntoView {
    let leave_or_return = if choices.has_left {
        view! {
            <div class="nhsuk-inset-text">
                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>{format!("You left your health record in this portal on {}.", choices.left_on.clone().unwrap_or_default())}</p>
            </div>
            <p>"Your records are still kept, because the people caring for you use them. You can come back at any time."</p>
            <a class="nhsuk-button" href="/account/choices/return" role="button" draggable="false">"Come back to your health record"</a>
        }
        .into_any()
    } else {
        view! {
            <p>"You can stop using this portal. If you do:"</p>
            <ul>
                <li>"you will not be able to see your record here"</li>
                <li>"people who can see your record for you will not be able to, until you let them back in"</li>
                <li>"we will not send you any more messages about new information"</li>
            </ul>
            <p>"It does not:"</p>
            <ul>
                <li>"delete your records: hospitals and GP practices still send them, and the people caring for you still use them"</li>
                <li>"change what your GP or hospital records, or who treats you"</li>
            </ul>
            <p>"You can come back at any time by signing in."</p>
            <a class="nhsuk-button nhsuk-button--secondary" href="/account/choices/leave" role="button" draggable="false">"Leave the portal"</a>
        }
        .into_any()
    };
    view! {
        <h2>"Using this portal"</h2>
        {leave_or_return}
        {(!choices.has_left).then(|| view! { <Sources choices=choices.clone()/> })}
        <h2>"The national data opt-out"</h2>
        <p>"Your health records are also used for research and for planning health services. You can choose to stop this through the national data opt-out. It does not affect how your records are used for your own care, and it is not set in this portal."</p>
        <p><a href=NATIONAL_DATA_OPT_OUT_URL rel="external">"Find out about the national data opt-out and set your choice on the NHS website"</a></p>
        <History lines=choices.history/>
    }
}

#[component]
fn Sources(choices: ChoicesView) -> impl IntoView {
    view! {
        <h2>"Organisations whose records you see"</h2>
        <p>"You can choose not to see records from an organisation in this portal. They will not be shown to you or to anyone who sees your record for you. The organisation still sends them and they are still kept, because the people caring for you use them. You can change this back at any time."</p>
        {if choices.sources.is_empty() {
            view! { <p>"No organisation has sent you any records yet."</p> }.into_any()
        } else {
            view! {
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"Organisations whose records you see"</caption>
                    <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"Organisation"</th>
                        <th class="nhsuk-table__header" scope="col">"Records shown"</th>
                        <th class="nhsuk-table__header" scope="col"><span class="nhsuk-u-visually-hidden">"Change"</span></th>
                    </tr></thead>
                    <tbody class="nhsuk-table__body">
                        {choices.sources.into_iter().map(|s| {
                            let (shown, href, action) = if s.objected {
                                ("No", format!("/account/choices/withdraw?source={}", s.ods_code), "Show records again")
                            } else {
                                ("Yes", format!("/account/choices/object?source={}", s.ods_code), "Stop showing records")
                            };
                            view! {
                                <tr class="nhsuk-table__row">
                                    <td class="nhsuk-table__cell">{s.name.clone()}</td>
                                    <td class="nhsuk-table__cell">{shown}</td>
                                    <td class="nhsuk-table__cell"><a href=href>{action}<span class="nhsuk-u-visually-hidden">{format!(" from {}", s.name)}</span></a></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The history of the patient's choices, newest first.
#[component]
pub fn History(lines: Vec<ChoiceHistoryLine>) -> impl IntoView {
    view! {
        <h2>"History of your choices"</h2>
        {if lines.is_empty() {
            view! { <p>"You have not made any choices yet."</p> }.into_any()
        } else {
            view! {
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"History of choices, newest first"</caption>
                    <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"When"</th>
                        <th class="nhsuk-table__header" scope="col">"What"</th>
                        <th class="nhsuk-table__header" scope="col">"Who"</th>
                    </tr></thead>
                    <tbody class="nhsuk-table__body">
                        {lines.into_iter().map(|line| view! {
                            <tr class="nhsuk-table__row">
                                <td class="nhsuk-table__cell">{line.at}</td>
                                <td class="nhsuk-table__cell">{line.what}{line.reason.map(|r| view! { <br/><span class="nhsuk-body-s">{format!("Reason: {r}")}</span> })}</td>
                                <td class="nhsuk-table__cell">{line.by}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The confirm step of leaving.
#[component]
pub fn LeavePage() -> impl IntoView {
    let state = FormState::of("choice");
    view! {
        <Title text="Leave the portal - Your choices - Your health record"/>
        <BackLink href="/account/choices" label="Back to your choices"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary state=state.clone()/>
                <h1>"Are you sure you want to leave the portal?"</h1>
                <p>"You will not be able to see your record here, and nobody will be able to see it for you, until you come back."</p>
                <p>"Your records will still be kept and used by the people caring for you."</p>
                <form method="post" action="/account/choices/leave" novalidate=true>
                    <CsrfField/>
                    <input type="hidden" name="choice" value="leave"/>
                    <button class="nhsuk-button nhsuk-button--warning" type="submit">"Yes, leave the portal"</button>
                </form>
                <p><a href="/account/choices">"No, go back"</a></p>
            </div>
        </div>
    }
}

/// The confirm step of coming back, offering back each person the leaving paused.
#[component]
pub fn ReturnPage() -> impl IntoView {
    view! {
        <Title text="Come back - Your choices - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                {with_choices(|choices| view! { <Return choices/> })}
            </div>
        </div>
    }
}

#[component]
fn Return(choices: ChoicesView) -> impl IntoView {
    let state = FormState::of("choice");
    if !choices.has_left {
        return view! {
            <h1>"You are using the portal"</h1>
            <p><a href="/record">"Go to your record"</a></p>
        }
        .into_any();
    }
    view! {
        <ErrorSummary state=state.clone()/>
        <h1>"Come back to your health record"</h1>
        <p>"You will be able to see your record here again."</p>
        <form method="post" action="/account/choices/return" novalidate=true>
            <CsrfField/>
            <input type="hidden" name="choice" value="return"/>
            {(!choices.offered_back.is_empty()).then(|| view! {
                <div class="nhsuk-form-group">
                    <fieldset class="nhsuk-fieldset" aria-describedby="resume-hint">
                        <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"People who could see your record for you before you left"</legend>
                        <div class="nhsuk-hint" id="resume-hint">"Their access was paused when you left. Select anyone you want to let back in. Anyone you do not select stays paused, and you can change this later."</div>
                        <div class="nhsuk-checkboxes">
                            {choices.offered_back.iter().map(|g| {
                                let field = format!("resume-{}", g.public_id);
                                view! {
                                    <div class="nhsuk-checkboxes__item">
                                        <input class="nhsuk-checkboxes__input" id=field.clone() name=field.clone() type="checkbox" value="yes"/>
                                        <label class="nhsuk-label nhsuk-checkboxes__label" for=field>{format!("{} ({})", g.name, g.relationship)}</label>
                                    </div>
                                }
                            }).collect_view()}
                        </div>
                    </fieldset>
                </div>
            })}
            <button class="nhsuk-button" type="submit">"Come back"</button>
        </form>
    }
    .into_any()
}

/// The confirm step of objecting to a source, or of withdrawing an objection.
#[component]
fn SourceConfirm(objecting: bool) -> impl IntoView {
    let source = use_query_map().with_untracked(|q| q.get("source").unwrap_or_default());
    let state = FormState::of("choice");
    let body = move |choices: ChoicesView| {
        let found = choices
            .sources
            .iter()
            .find(|s| s.ods_code == source && s.objected != objecting)
            .cloned();
        let Some(found) = found else {
            return view! { <ProblemPage error=crate::error::AppError::NotFound/> }.into_any();
        };
        let (heading, detail, button, action, choice) = if objecting {
            (
                format!("Stop showing records from {}?", found.name),
                "Records from this organisation will not be shown to you, or to anyone who sees your record for you. They will still be sent and kept, because the people caring for you use them.",
                "Yes, stop showing them",
                "/account/choices/object",
                "object",
            )
        } else {
            (
                format!("Show records from {} again?", found.name),
                "Records from this organisation will be shown again, to you and to anyone who can see that part of your record for you.",
                "Yes, show them again",
                "/account/choices/withdraw",
                "withdraw",
            )
        };
        view! {
            <ErrorSummary state=state.clone()/>
            <h1>{heading}</h1>
            <p>{detail}</p>
            <form method="post" action=action novalidate=true>
                <CsrfField/>
                <input type="hidden" name="choice" value=choice/>
                <input type="hidden" name="source" value=found.ods_code.clone()/>
                <button class="nhsuk-button" type="submit">{button}</button>
            </form>
            <p><a href="/account/choices">"No, go back"</a></p>
        }
        .into_any()
    };
    let choices = OnceResource::new(get_my_choices());
    view! {
        <BackLink href="/account/choices" label="Back to your choices"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || choices.get().map(|result| match result {
                        Ok(view) => body(view),
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

#[component]
pub fn ObjectPage() -> impl IntoView {
    view! {
        <Title text="Stop showing an organisation's records - Your choices - Your health record"/>
        <SourceConfirm objecting=true/>
    }
}

#[component]
pub fn WithdrawPage() -> impl IntoView {
    view! {
        <Title text="Show an organisation's records again - Your choices - Your health record"/>
        <SourceConfirm objecting=false/>
    }
}
