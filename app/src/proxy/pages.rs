//! The proxy pages, rendered on the server; every form is a plain POST to the page's own
//! address (see `crate::components::forms`), so all of it works without JavaScript.
//!
//! - `/account/people`: "People who can see your record" (the patient's grants and
//!   invitations);
//! - `/account/people/invite`: invite someone (the one-time code is shown once);
//! - `/account/people/{id}`: one grant: what it opens, its history, change, pause,
//!   resume, stop (or, for a young person, agree to a parent's access continuing);
//! - `/proxy/accept`: the invitee enters the code, checks and accepts;
//! - `/proxy/choose`: whose record to open, and the person's own applications;
//! - `/proxy/apply`: apply as a parent, attorney or deputy;
//! - `/staff/proxy-applications` and `/staff/proxy-applications/{id}`: the service
//!   desk's verification queue and decision;
//! - `/staff/proxy-grants/{id}`: one grant on a record (reached from the patient's page
//!   in the desk console, once found with a reason), and the desk's changes to it, each
//!   with decision-maker and reason; `/staff/proxy-grants` says where grants are found.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use super::rules::{GRANTABLE_LABELS, Scope};
use crate::components::forms::{
    CsrfField, ErrorSummary, FormOutcome, FormState, StaffCsrfField, TextField,
};
use crate::pages::ProblemPage;

/// A back link, as the design system draws it.
#[component]
pub(crate) fn BackLink(href: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <div class="nhsuk-back-link">
            <a class="nhsuk-back-link__link" href=href>{label}</a>
        </div>
    }
}

/// Day, month and year inputs for one date (the design system's date input).
#[component]
pub(crate) fn DateField(
    prefix: &'static str,
    legend: &'static str,
    hint: &'static str,
    state: Option<FormState>,
    #[prop(optional)] default: Option<String>,
) -> impl IntoView {
    let problem = state
        .as_ref()
        .and_then(|s| s.problem(&format!("{prefix}-day")));
    let (d_day, d_month, d_year) = default
        .as_deref()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| {
            use chrono::Datelike;
            (
                d.day().to_string(),
                d.month().to_string(),
                d.year().to_string(),
            )
        })
        .unwrap_or_default();
    let part = |name: &str, fallback: &str| {
        crate::components::forms::field_value(&state, &format!("{prefix}-{name}"), fallback)
    };
    let (day, month, year) = (
        part("day", &d_day),
        part("month", &d_month),
        part("year", &d_year),
    );
    let hint_id = format!("{prefix}-hint");
    let error_id = format!("{prefix}-error");
    let described = if problem.is_some() {
        format!("{hint_id} {error_id}")
    } else {
        hint_id.clone()
    };
    let error_class = if problem.is_some() {
        " nhsuk-input--error"
    } else {
        ""
    };
    let group = if problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    let input = move |name: &'static str,
                      label: &'static str,
                      value: String,
                      width: &'static str| {
        let id = format!("{prefix}-{name}");
        view! {
            <div class="nhsuk-date-input__item">
                <div class="nhsuk-form-group">
                    <label class="nhsuk-label nhsuk-date-input__label" for=id.clone()>{label}</label>
                    <input class=format!("nhsuk-input nhsuk-date-input__input {width}{error_class}")
                        id=id.clone() name=id type="text" inputmode="numeric" value=value/>
                </div>
            </div>
        }
    };
    view! {
        <div class=group>
            <fieldset class="nhsuk-fieldset" role="group" aria-describedby=described>
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{legend}</legend>
                <div class="nhsuk-hint" id=hint_id>{hint}</div>
                {problem.map(|p| view! {
                    <span class="nhsuk-error-message" id=error_id>
                        <span class="nhsuk-u-visually-hidden">"Error: "</span>{p}
                    </span>
                })}
                <div class="nhsuk-date-input">
                    {input("day", "Day", day, "nhsuk-input--width-2")}
                    {input("month", "Month", month, "nhsuk-input--width-2")}
                    {input("year", "Year", year, "nhsuk-input--width-4")}
                </div>
            </fieldset>
        </div>
    }
}

/// The checkboxes for what a grant opens.
#[component]
fn ScopeFields(state: Option<FormState>, scope: Scope) -> impl IntoView {
    let problem = state.as_ref().and_then(|s| s.problem("appointments"));
    let ticked = move |field: &str, default: bool| match &state {
        Some(s) => s.values.contains_key(field),
        None => default,
    };
    let sections = [
        ("appointments", "Appointments", scope.appointments),
        ("letters", "Letters and documents", scope.letters),
        ("results", "Test results", scope.results),
    ];
    let group = if problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    view! {
        <div class=group>
            <fieldset class="nhsuk-fieldset" aria-describedby="sections-hint">
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"What they can see"</legend>
                <div class="nhsuk-hint" id="sections-hint">"Select all that apply."</div>
                {problem.map(|p| view! {
                    <span class="nhsuk-error-message"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span>
                })}
                <div class="nhsuk-checkboxes">
                    {sections.into_iter().map(|(name, label, on)| view! {
                        <div class="nhsuk-checkboxes__item">
                            <input class="nhsuk-checkboxes__input" id=name name=name type="checkbox" value="yes" checked=ticked(name, on)/>
                            <label class="nhsuk-label nhsuk-checkboxes__label" for=name>{label}</label>
                        </div>
                    }).collect_view()}
                </div>
            </fieldset>
        </div>
        <div class="nhsuk-form-group">
            <fieldset class="nhsuk-fieldset" aria-describedby="labels-hint">
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"Sensitive information they can also see"</legend>
                <div class="nhsuk-hint" id="labels-hint">"Leave these unticked unless you want them to see this kind of information. Some information, such as sexual health, is never shared through this service."</div>
                <div class="nhsuk-checkboxes">
                    {GRANTABLE_LABELS.iter().map(|(label, name)| {
                        let field = format!("label-{label}");
                        let on = scope.labels.iter().any(|l| l == label);
                        view! {
                            <div class="nhsuk-checkboxes__item">
                                <input class="nhsuk-checkboxes__input" id=field.clone() name=field.clone() type="checkbox" value="yes" checked=ticked(&field, on)/>
                                <label class="nhsuk-label nhsuk-checkboxes__label" for=field>{*name}</label>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </fieldset>
        </div>
    }
}

/// A grant's terms as a summary list.
#[component]
fn GrantSummary(grant: GrantView, who: &'static str) -> impl IntoView {
    let row = |key: &'static str, value: String| {
        view! {
            <div class="nhsuk-summary-list__row">
                <dt class="nhsuk-summary-list__key">{key}</dt>
                <dd class="nhsuk-summary-list__value">{value}</dd>
            </div>
        }
    };
    let sections = if grant.sections.is_empty() {
        "Nothing".to_owned()
    } else {
        grant.sections.join(", ")
    };
    let labels = if grant.labels.is_empty() {
        "None".to_owned()
    } else {
        grant.labels.join(", ")
    };
    view! {
        <dl class="nhsuk-summary-list">
            {row(who, grant.name.clone())}
            {row("Relationship", grant.relationship.clone())}
            {row("Why they have access", grant.basis.clone())}
            {row("What they can see", sections)}
            {row("Sensitive information", labels)}
            {row("From", grant.from.clone())}
            {row("Until", grant.until.clone().unwrap_or_else(|| "No end date".to_owned()))}
            {row("Status", grant.status.clone())}
            {row("Last used", grant.last_used.clone().unwrap_or_else(|| "Not used yet".to_owned()))}
        </dl>
    }
}

/// What happened to a grant, oldest first.
#[component]
fn HistoryTable(history: Vec<HistoryLine>) -> impl IntoView {
    view! {
        <h2>"History"</h2>
        <table class="nhsuk-table">
            <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"What happened to this access"</caption>
            <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                <th class="nhsuk-table__header" scope="col">"When"</th>
                <th class="nhsuk-table__header" scope="col">"What"</th>
                <th class="nhsuk-table__header" scope="col">"Who"</th>
            </tr></thead>
            <tbody class="nhsuk-table__body">
                {history.into_iter().map(|line| view! {
                    <tr class="nhsuk-table__row">
                        <td class="nhsuk-table__cell">{line.at}</td>
                        <td class="nhsuk-table__cell">{line.what}{line.reason.map(|r| view! { <br/><span class="nhsuk-body-s">{r}</span> })}</td>
                        <td class="nhsuk-table__cell">{line.by}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "People who can see your record".
#[component]
pub fn PeoplePage() -> impl IntoView {
    let people = OnceResource::new(list_people());
    view! {
        <Title text="People who can see your record - Your health record"/>
        <BackLink href="/record" label="Back to your record"/>
        <h1>"People who can see your record"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || people.get().map(|result| match result {
                Ok(people) => view! { <People people/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn People(people: PeopleView) -> impl IntoView {
    let live: Vec<GrantView> = people
        .grants
        .iter()
        .filter(|g| !g.is_revoked)
        .cloned()
        .collect();
    let pending: Vec<InvitationView> = people
        .invitations
        .iter()
        .filter(|i| i.is_pending)
        .cloned()
        .collect();
    view! {
        <p class="nhsuk-lead-text">"You can let someone you trust, such as a family member or carer, see parts of your record using their own NHS login."</p>
        <a class="nhsuk-button" href="/account/people/invite" role="button" draggable="false">"Invite someone"</a>
        <h2>"Who can see your record"</h2>
        {if live.is_empty() {
            view! { <p>"Nobody else can see your record."</p> }.into_any()
        } else {
            view! {
                <ul class="nhsuk-list app-card-list">
                    {live.into_iter().map(|grant| {
                        let href = format!("/account/people/{}", grant.public_id);
                        let name = grant.name.clone();
                        view! {
                            <li class="nhsuk-card">
                                <div class="nhsuk-card__content">
                                    <h3 class="nhsuk-card__heading">{name.clone()}</h3>
                                    {grant.notice.clone().map(|n| view! { <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span><p>{n}</p></div> })}
                                    <GrantSummary grant=grant who="Name"/>
                                    <p><a href=href>"Change or stop "<span class="nhsuk-u-visually-hidden">{format!("{name}'s ")}</span>"access"</a></p>
                                </div>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <h2>"Invitations waiting to be accepted"</h2>
        {if pending.is_empty() {
            view! { <p>"You have no invitations waiting."</p> }.into_any()
        } else {
            view! {
                <ul class="nhsuk-list">
                    {pending.into_iter().map(|invitation| {
                        let action = format!("/account/people/invitations/{}/withdraw", invitation.public_id);
                        view! {
                            <li>
                                <p><strong>{invitation.name.clone()}</strong>" ("{invitation.relationship.clone()}"). Sent "{invitation.sent.clone()}". Expires "{invitation.expires.clone()}"."</p>
                                <form method="post" action=action>
                                    <CsrfField/>
                                    <button class="nhsuk-button nhsuk-button--secondary" type="submit">
                                        "Withdraw invitation"<span class="nhsuk-u-visually-hidden">{format!(" for {}", invitation.name)}</span>
                                    </button>
                                </form>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

/// Invite someone to see your record.
#[component]
pub fn InvitePage() -> impl IntoView {
    let state = FormState::of("invite");
    if let Some(FormOutcome::InvitationCreated {
        code,
        name,
        expires_on,
    }) = state.as_ref().and_then(|s| s.outcome.clone())
    {
        return view! {
            <Title text="Invitation created - Your health record"/>
            <div class="nhsuk-panel">
                <h1 class="nhsuk-panel__title">"Invitation created"</h1>
                <div class="nhsuk-panel__body">
                    "Give this code to "{name.clone()}": "<br/><strong class="app-invitation-code">{code}</strong>
                </div>
            </div>
            <h2>"What happens next"</h2>
            <p>{format!("{name} needs to sign in to this service with their own NHS login, choose \"Accept an invitation\" and enter the code before {expires_on}.")}</p>
            <p>"Only they can use it: we check their name and date of birth against what you entered. You will not be able to see this code again."</p>
            <p><a href="/account/people">"Back to people who can see your record"</a></p>
        }
        .into_any();
    }
    view! {
        <Title text="Invite someone to see your record - Your health record"/>
        <BackLink href="/account/people" label="Back"/>
        <ErrorSummary state=state.clone()/>
        <h1>"Invite someone to see your record"</h1>
        <p>"They will need their own NHS login. Enter their details exactly as they are on their NHS login."</p>
        <form method="post" action="/account/people/invite" novalidate=true>
            <CsrfField/>
            <TextField name="given-name" label="First name" autocomplete="off" state=state.clone()/>
            <TextField name="family-name" label="Last name" autocomplete="off" state=state.clone()/>
            <DateField prefix="birth-date" legend="Date of birth" hint="For example, 15 3 1984" state=state.clone()/>
            <TextField name="relationship" label="How are they related to you?" hint="For example, daughter, husband or friend" state=state.clone()/>
            <TextField name="email" label="Email address (optional)" hint="We will not send them anything yet: give them the code yourself." input_type="email" autocomplete="off" state=state.clone()/>
            <ScopeFields state=state.clone() scope=Scope::all_sections()/>
            <DateField prefix="ends-on" legend="End date (optional)" hint="Leave blank for no end date. For example, 31 12 2027" state=state.clone()/>
            <button class="nhsuk-button" type="submit">"Create invitation"</button>
        </form>
    }
    .into_any()
}

/// One grant on the patient's record.
#[component]
pub fn GrantPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").unwrap_or_default());
    let detail = OnceResource::new(get_grant(id));
    view! {
        <Title text="Someone who can see your record - Your health record"/>
        <BackLink href="/account/people" label="Back to people who can see your record"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || detail.get().map(|result| match result {
                Ok(detail) => view! { <Grant detail/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Grant(detail: GrantDetail) -> impl IntoView {
    let state = FormState::of("grant");
    let grant = detail.grant;
    let action = format!("/account/people/{}", grant.public_id);
    let name = grant.name.clone();
    let controls = grant.patient_controls && !grant.is_revoked;
    let consent = grant.awaits_young_persons_consent.then(|| {
        let action = action.clone();
        let name = name.clone();
        view! {
            <h2>"Let them keep seeing your record"</h2>
            <p>{format!("You are now old enough to decide who sees your record. If you agree, {name} can keep seeing what they could before, and you can change or stop it at any time.")}</p>
            <form method="post" action=action>
                <CsrfField/>
                <input type="hidden" name="action" value="consent"/>
                <button class="nhsuk-button" type="submit">{format!("Let {name} keep seeing my record")}</button>
            </form>
        }
    });
    let change = controls.then(|| {
        let state = state.clone();
        let action2 = action.clone();
        let action3 = action.clone();
        let scope = grant.scope.clone();
        let ends_on = grant.ends_on.clone();
        let suspended = grant.is_suspended_by_decision;
        view! {
            <h2>"Change what they can see"</h2>
            <form method="post" action=action.clone() novalidate=true>
                <CsrfField/>
                <input type="hidden" name="action" value="change"/>
                <ScopeFields state=state.clone() scope=scope/>
                <DateField prefix="ends-on" legend="End date (optional)" hint="Leave blank for no end date." state=state.clone() default=ends_on.unwrap_or_default()/>
                <button class="nhsuk-button" type="submit">"Save changes"</button>
            </form>
            <h2>{if suspended { "Resume their access" } else { "Pause their access" }}</h2>
            <p>{if suspended { "They will be able to see your record again." } else { "They will not be able to see your record until you resume it." }}</p>
            <form method="post" action=action2>
                <CsrfField/>
                <input type="hidden" name="action" value=if suspended { "resume" } else { "suspend" }/>
                <button class="nhsuk-button nhsuk-button--secondary" type="submit">{if suspended { "Resume access" } else { "Pause access" }}</button>
            </form>
            <h2>"Stop their access"</h2>
            <p>"They will no longer be able to see your record. To give them access again you will need to invite them again."</p>
            <form method="post" action=action3>
                <CsrfField/>
                <input type="hidden" name="action" value="revoke"/>
                <button class="nhsuk-button nhsuk-button--warning" type="submit">"Stop access"</button>
            </form>
        }
    });
    let desk_note = (!grant.patient_controls && !grant.awaits_young_persons_consent && !grant.is_revoked).then(|| view! {
        <div class="nhsuk-inset-text">
            <span class="nhsuk-u-visually-hidden">"Information: "</span>
            <p>"This access was checked and granted by our service desk because of a legal relationship, such as parental responsibility or a lasting power of attorney. To change it, contact the service desk."</p>
        </div>
    });
    view! {
        <h1>{name.clone()}</h1>
        <ErrorSummary state=state.clone()/>
        {grant.notice.clone().map(|n| view! { <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span><p>{n}</p></div> })}
        <GrantSummary grant=grant.clone() who="Name"/>
        {desk_note}
        {consent}
        {change}
        <HistoryTable history=detail.history/>
    }
}

/// The invitee enters the code, then checks and accepts.
#[component]
pub fn AcceptPage() -> impl IntoView {
    let state = FormState::of("accept");
    if let Some(FormOutcome::InvitationFound {
        code,
        patient_name,
        relationship,
        sections,
        until,
    }) = state.as_ref().and_then(|s| s.outcome.clone())
    {
        let until = until.unwrap_or_else(|| "no end date".to_owned());
        return view! {
            <Title text="Accept the invitation - Your health record"/>
            <h1>{format!("{patient_name} has invited you to see their record")}</h1>
            <dl class="nhsuk-summary-list">
                <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"You are their"</dt><dd class="nhsuk-summary-list__value">{relationship}</dd></div>
                <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"You will be able to see"</dt><dd class="nhsuk-summary-list__value">{sections.join(", ")}</dd></div>
                <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"Until"</dt><dd class="nhsuk-summary-list__value">{until}</dd></div>
            </dl>
            <p>"What you see and do in their record is recorded, and they can see when you looked. They can stop your access at any time."</p>
            <form method="post" action="/proxy/accept">
                <CsrfField/>
                <input type="hidden" name="code" value=code/>
                <input type="hidden" name="step" value="accept"/>
                <button class="nhsuk-button" type="submit">"Accept invitation"</button>
            </form>
            <p><a href="/proxy/choose">"Do not accept"</a></p>
        }
        .into_any();
    }
    view! {
        <Title text="Accept an invitation - Your health record"/>
        <ErrorSummary state=state.clone()/>
        <h1>"Accept an invitation"</h1>
        <p>"If someone has invited you to see their record, enter the code they gave you."</p>
        <form method="post" action="/proxy/accept" novalidate=true>
            <CsrfField/>
            <input type="hidden" name="step" value="find"/>
            <TextField name="code" label="Invitation code" hint="For example, ABCD-EFGH-JKLM" autocomplete="off" width_class="nhsuk-input--width-20" state=state.clone()/>
            <button class="nhsuk-button" type="submit">"Continue"</button>
        </form>
    }
    .into_any()
}

/// Whose record to open.
#[component]
pub fn ChoosePage() -> impl IntoView {
    let choices = OnceResource::new(list_choices());
    view! {
        <Title text="Whose record do you want to see? - Your health record"/>
        <h1>"Whose record do you want to see?"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || choices.get().map(|result| match result {
                Ok(choices) => view! { <Choices choices/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
        <MyApplications/>
        <h2>"Get access to someone's record"</h2>
        <ul class="nhsuk-list">
            <li><a href="/proxy/accept">"Accept an invitation to see someone's record"</a></li>
            <li><a href="/proxy/apply">"Apply as a parent, attorney or deputy"</a></li>
        </ul>
    }
}

#[component]
fn Choices(choices: ChoicesView) -> impl IntoView {
    let own = choices.own_record.then(|| view! {
        <li class="nhsuk-card">
            <div class="nhsuk-card__content">
                <h2 class="nhsuk-card__heading">"Your own record"</h2>
                <form method="post" action="/proxy/choose">
                    <CsrfField/>
                    <input type="hidden" name="choice" value="own"/>
                    <button class="nhsuk-button nhsuk-u-margin-bottom-0" type="submit">"See your own record"</button>
                </form>
            </div>
        </li>
    });
    view! {
        {choices.acting_for.map(|name| view! { <p>{format!("You are acting for {name} now.")}</p> })}
        <ul class="nhsuk-list app-card-list">
            {own}
            {choices.grants.into_iter().map(|grant| {
                let name = grant.name.clone();
                let open = grant.in_force.then(|| {
                    let id = grant.public_id.clone();
                    let name = name.clone();
                    view! {
                        <form method="post" action="/proxy/choose">
                            <CsrfField/>
                            <input type="hidden" name="choice" value=id/>
                            <button class="nhsuk-button nhsuk-u-margin-bottom-0" type="submit">{format!("See {name}'s record")}</button>
                        </form>
                    }
                });
                let why_not = (!grant.in_force).then(|| view! {
                    <p>{format!("Your access is {}. You cannot see this record at the moment.", grant.status.to_lowercase())}</p>
                });
                view! {
                    <li class="nhsuk-card">
                        <div class="nhsuk-card__content">
                            <h2 class="nhsuk-card__heading">{name.clone()}</h2>
                            <p>{format!("{}: {}. You can see: {}.", grant.basis, grant.relationship, if grant.sections.is_empty() { "nothing".to_owned() } else { grant.sections.join(", ").to_lowercase() })}</p>
                            {grant.notice.clone().map(|n| view! { <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span><p>{n}</p></div> })}
                            {why_not}
                            {open}
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// Radios, as the design system draws them.
#[component]
pub(crate) fn RadioField(
    name: &'static str,
    legend: &'static str,
    options: Vec<(String, String)>,
    state: Option<FormState>,
) -> impl IntoView {
    let problem = state.as_ref().and_then(|s| s.problem(name));
    let chosen = state.as_ref().map(|s| s.value(name)).unwrap_or_default();
    let group = if problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    view! {
        <div class=group>
            <fieldset class="nhsuk-fieldset">
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{legend}</legend>
                {problem.map(|p| view! {
                    <span class="nhsuk-error-message"><span class="nhsuk-u-visually-hidden">"Error: "</span>{p}</span>
                })}
                <div class="nhsuk-radios">
                    {options.into_iter().enumerate().map(|(index, (value, label))| {
                        // The first radio carries the field's id, for the error summary.
                        let id = if index == 0 { name.to_owned() } else { format!("{name}-{value}") };
                        let checked = chosen == value;
                        view! {
                            <div class="nhsuk-radios__item">
                                <input class="nhsuk-radios__input" id=id.clone() name=name type="radio" value=value checked=checked/>
                                <label class="nhsuk-label nhsuk-radios__label" for=id>{label}</label>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </fieldset>
        </div>
    }
}

/// Apply to act for someone on a legal basis the service desk checks.
#[component]
pub fn ApplyPage() -> impl IntoView {
    let state = FormState::of("apply");
    let bases = super::rules::ProxyBasisKind::APPLIED_FOR
        .iter()
        .map(|b| (b.code().to_owned(), b.label().to_owned()))
        .collect::<Vec<_>>();
    view! {
        <Title text="Apply to see someone's record - Your health record"/>
        <BackLink href="/proxy/choose" label="Back"/>
        <ErrorSummary state=state.clone()/>
        <h1>"Apply to see someone's record"</h1>
        <p>"If you are a parent of a child under 16, hold a health and welfare lasting power of attorney, or are a deputy appointed by the Court of Protection, you can apply to see their record. Our service desk will check your evidence before you can see anything."</p>
        <form method="post" action="/proxy/apply" novalidate=true>
            <CsrfField/>
            <RadioField name="basis" legend="Why should you be able to see their record?" options=bases state=state.clone()/>
            <TextField name="relationship" label="How are you related to them?" hint="For example, mother, son or solicitor" state=state.clone()/>
            <TextField name="nhs-number" label="Their NHS number" hint="This is a 10 digit number, like 485 777 3456" width_class="nhsuk-input--width-10" autocomplete="off" state=state.clone()/>
            <DateField prefix="birth-date" legend="Their date of birth" hint="For example, 21 3 2017" state=state.clone()/>
            <TextField name="evidence" label="Evidence reference" hint="For example, the LPA registration number, the court order number, or the birth certificate number" state=state.clone()/>
            <button class="nhsuk-button" type="submit">"Send application"</button>
        </form>
    }
}

/// The applicant's own applications, on the "Whose record" page.
#[component]
pub fn MyApplications() -> impl IntoView {
    let applications = OnceResource::new(list_my_applications());
    view! {
        <Suspense fallback=|| ()>
            {move || applications.get().map(|result| match result {
                Ok(list) if list.is_empty() => ().into_any(),
                Ok(list) => view! {
                    <h2>"Your applications"</h2>
                    <ul class="nhsuk-list">
                        {list.into_iter().map(|a| view! {
                            <li>
                                <p><strong>{a.basis}</strong>{format!(" ({}), sent {}: {}.", a.relationship, a.sent, a.status)}</p>
                                {a.refusal.map(|r| view! { <p>{r}</p> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

/// The service desk's proxy verification queue: oldest first, filtered by basis and
/// paged, within the console.
#[component]
pub fn DeskApplicationsPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let basis = query.with_untracked(|q| q.get("basis").unwrap_or_default());
    let page = query.with_untracked(|q| q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1));
    let queue = OnceResource::new(list_desk_applications(basis, page));
    view! {
        <Title text="Proxy applications - Service desk - Your health record"/>
        <crate::desk::pages::DeskNav/>
        <h1>"Proxy applications to check"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || queue.get().map(|result| match result {
                Ok(queue) => view! { <DeskApplications queue/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskApplications(queue: DeskApplicationQueue) -> impl IntoView {
    let basis = queue.basis.clone().unwrap_or_default();
    let link =
        |page| crate::desk::pages::page_link("/staff/proxy-applications", ("basis", &basis), page);
    let previous = (queue.page > 1).then(|| link(queue.page - 1));
    let next = (queue.page < queue.pages).then(|| link(queue.page + 1));
    view! {
        <crate::desk::pages::ListFilter action="/staff/proxy-applications" name="basis" label="Basis"
            everything="Every basis" options=queue.bases.clone() chosen=basis.clone()/>
        {if queue.items.is_empty() {
            view! { <p>"There are no applications waiting."</p> }.into_any()
        } else {
            view! {
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption">{format!("{} waiting, oldest first (page {} of {})", queue.total, queue.page, queue.pages)}</caption>
                    <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"Received"</th>
                        <th class="nhsuk-table__header" scope="col">"Applicant"</th>
                        <th class="nhsuk-table__header" scope="col">"Basis"</th>
                        <th class="nhsuk-table__header" scope="col">"Evidence"</th>
                    </tr></thead>
                    <tbody class="nhsuk-table__body">
                        {queue.items.into_iter().map(|a| {
                            let href = format!("/staff/proxy-applications/{}", a.public_id);
                            view! {
                                <tr class="nhsuk-table__row">
                                    <td class="nhsuk-table__cell">{a.received}</td>
                                    <td class="nhsuk-table__cell"><a href=href>{a.applicant_name}</a></td>
                                    <td class="nhsuk-table__cell">{a.basis}</td>
                                    <td class="nhsuk-table__cell">{a.evidence_reference}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <crate::desk::pages::Pagination previous next label="Pages of proxy applications"/>
    }
}

/// One application: the evidence, what the portal holds for the patient, the decision.
#[component]
pub fn DeskApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").unwrap_or_default());
    let detail = OnceResource::new(get_desk_application(id));
    view! {
        <Title text="Check a proxy application - Service desk - Your health record"/>
        <BackLink href="/staff/proxy-applications" label="Back to the applications"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || detail.get().map(|result| match result {
                Ok(detail) => view! { <DeskApplication detail/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskApplication(detail: DeskApplicationDetail) -> impl IntoView {
    let state = FormState::of("decide");
    let a = detail.application;
    let action = format!("/staff/proxy-applications/{}", a.public_id);
    let row = |key: &'static str, value: String| {
        view! {
            <div class="nhsuk-summary-list__row">
                <dt class="nhsuk-summary-list__key">{key}</dt>
                <dd class="nhsuk-summary-list__value">{value}</dd>
            </div>
        }
    };
    let patient = match (&detail.patient.found, detail.patient.number_held) {
        (Some(found), _) => format!("{found}: the date of birth matches"),
        (None, true) => {
            "A record has this NHS number, but the date of birth does not match".to_owned()
        }
        (None, false) => "No record with this NHS number".to_owned(),
    };
    let age = detail.patient.child_under_age.map(|under| {
        if under {
            "Under 16".to_owned()
        } else {
            "16 or over: parental responsibility does not apply".to_owned()
        }
    });
    let refusals = crate::proxy::pages::refusal_options();
    let decision_options = if detail.can_grant {
        vec![
            ("grant".to_owned(), "Grant access".to_owned()),
            ("refuse".to_owned(), "Refuse".to_owned()),
        ]
    } else {
        vec![("refuse".to_owned(), "Refuse".to_owned())]
    };
    view! {
        <ErrorSummary state=state.clone()/>
        <h1>{format!("Application from {}", a.applicant_name)}</h1>
        <dl class="nhsuk-summary-list">
            {row("Received", a.received.clone())}
            {row("Basis", a.basis.clone())}
            {row("Relationship", a.relationship.clone())}
            {row("Evidence reference", a.evidence_reference.clone())}
            {row("Patient's NHS number", a.patient_nhs_number.clone())}
            {row("Date of birth given", a.patient_birth_date.clone())}
            {row("Record held", patient)}
            {age.map(|age| row("Age", age))}
            {row("Status", a.status.clone())}
            {a.decision.clone().map(|d| row("Decision", d))}
        </dl>
        {detail.is_pending.then(|| view! {
            <h2>"Decision"</h2>
            <form method="post" action=action novalidate=true>
                <StaffCsrfField/>
                <RadioField name="decision" legend="Your decision" options=decision_options state=state.clone()/>
                <TextField name="decision-maker" label="Decision-maker" hint="Name and role of the person who made the decision" state=state.clone()/>
                <TextField name="reason" label="Reason" hint="For the audit trail. The applicant does not see this." state=state.clone()/>
                <h3>"If you grant access"</h3>
                <ScopeFields state=state.clone() scope=Scope::all_sections()/>
                <DateField prefix="ends-on" legend="End date (optional)" hint="For example, the end date of a court order" state=state.clone()/>
                <h3>"If you refuse"</h3>
                <RadioField name="refusal" legend="What to tell the applicant" options=refusals state=state.clone()/>
                <button class="nhsuk-button" type="submit">"Record decision"</button>
            </form>
        })}
    }
}

/// The refusals the desk can give, worded as the applicant reads them.
#[cfg(feature = "ssr")]
fn refusal_options() -> Vec<(String, String)> {
    crate::server::proxy::REFUSALS
        .iter()
        .map(|(code, wording)| ((*code).to_owned(), (*wording).to_owned()))
        .collect()
}

#[cfg(not(feature = "ssr"))]
fn refusal_options() -> Vec<(String, String)> {
    Vec::new()
}

/// Where the grants on a record are found: on the patient's own page, once the desk has
/// found them by NHS number, date of birth and a reason (audited with it). A number
/// alone opens nothing here, as it opens nothing at "Find a patient".
#[component]
pub fn DeskGrantsPage() -> impl IntoView {
    view! {
        <Title text="Who can see a record - Service desk - Your health record"/>
        <crate::desk::pages::DeskNav/>
        <h1>"Who can see a record"</h1>
        <p>"Find the patient first, with their NHS number, date of birth and why you are looking. Their page lists everyone who can see their record, with a link to each grant."</p>
        <p><a href="/staff/patients">"Find a patient"</a></p>
    }
}

/// One grant, for the desk: its terms, its history, and changes with a recorded reason.
#[component]
pub fn DeskGrantPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").unwrap_or_default());
    let detail = OnceResource::new(get_desk_grant(id));
    view! {
        <Title text="A proxy grant - Service desk - Your health record"/>
        <BackLink href="/staff/patients" label="Find a patient"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || detail.get().map(|result| match result {
                Ok(detail) => view! { <DeskGrant detail/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeskGrant(detail: GrantDetail) -> impl IntoView {
    let state = FormState::of("desk-grant");
    let grant = detail.grant;
    let action = format!("/staff/proxy-grants/{}", grant.public_id);
    let mut actions = vec![(
        "change".to_owned(),
        "Change what they can see or the end date".to_owned(),
    )];
    if grant.is_suspended_by_decision {
        actions.push(("resume".to_owned(), "Resume access".to_owned()));
    } else {
        actions.push(("suspend".to_owned(), "Suspend access".to_owned()));
    }
    actions.push(("revoke".to_owned(), "Revoke access (final)".to_owned()));
    let scope = grant.scope.clone();
    let ends_on = grant.ends_on.clone().unwrap_or_default();
    view! {
        <ErrorSummary state=state.clone()/>
        <h1>{format!("{} ({})", grant.name, grant.relationship)}</h1>
        {grant.notice.clone().map(|n| view! { <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Information: "</span><p>{n}</p></div> })}
        <GrantSummary grant=grant.clone() who="Proxy"/>
        {(!grant.is_revoked).then(|| view! {
            <h2>"Change this access"</h2>
            <form method="post" action=action novalidate=true>
                <StaffCsrfField/>
                <RadioField name="action" legend="What do you want to do?" options=actions state=state.clone()/>
                <TextField name="decision-maker" label="Decision-maker" hint="Name and role of the person who made the decision" state=state.clone()/>
                <TextField name="reason" label="Reason" state=state.clone()/>
                <h3>"If you are changing what they can see"</h3>
                <ScopeFields state=state.clone() scope=scope/>
                <DateField prefix="ends-on" legend="End date (optional)" hint="Leave blank for no end date." state=state.clone() default=ends_on/>
                <button class="nhsuk-button" type="submit">"Record change"</button>
            </form>
        })}
        <HistoryTable history=detail.history/>
    }
}

/// Parents' access to children between the review ages, for the desk to review.
#[component]
pub fn DeskReviewsPage() -> impl IntoView {
    let due = OnceResource::new(list_desk_reviews());
    view! {
        <Title text="Parents' access to review - Service desk - Your health record"/>
        <crate::desk::pages::DeskNav/>
        <h1>"Parents' access to review"</h1>
        <p>"A parent's access to a child's record is reviewed while the child is between the review ages, and paused when the child turns 16 unless they agree to it."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || due.get().map(|result| match result {
                Ok(list) if list.is_empty() => view! { <p>"No access is due for review."</p> }.into_any(),
                Ok(list) => view! {
                    <p>{format!("{} due for review.", list.len())}</p>
                    <ul class="nhsuk-list">
                        {list.into_iter().map(|g| {
                            let href = format!("/staff/proxy-grants/{}", g.public_id);
                            view! {
                                <li>
                                    <a href=href>{g.name.clone()}</a>
                                    {g.notice.clone().map(|n| view! { <p class="nhsuk-body-s">{n}</p> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}
