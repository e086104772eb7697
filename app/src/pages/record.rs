//! The signed-in patient's record: the overview, appointments, letters, test results and
//! the history of a repeated test. Each page is rendered in full on the server (no
//! JavaScript needed; filters are plain GET forms) and hydrated in the browser. Pages
//! only render what their server function returns, which the release engine has
//! already decided: a withheld result arrives as a name and a date, nothing more.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::api::*;
use crate::records::view::*;
use crate::records::{DeliveryChannel, ItemDetails, ObservedValue, ReferenceRange};

/// The record's own navigation, on every record page.
#[component]
fn RecordNav(current: &'static str) -> impl IntoView {
    let links = [
        ("/record", "Overview"),
        ("/record/appointments", "Appointments"),
        ("/record/letters", "Letters and documents"),
        ("/record/results", "Test results"),
    ];
    view! {
        <nav class="app-record-nav" aria-label="Your record">
            <ul class="app-record-nav__list">
                {links.into_iter().map(|(href, label)| {
                    let is_current = href == current;
                    view! {
                        <li class="app-record-nav__item">
                            <a class="app-record-nav__link" href=href
                                aria-current=is_current.then_some("page")>{label}</a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </nav>
    }
}

/// "From Example Hospital. Received 3 November 2026."
#[component]
fn ProvenanceLine(provenance: Provenance) -> impl IntoView {
    view! {
        <p class="nhsuk-body-s app-provenance">
            "From "{provenance.source_name}". Received "
            <time datetime=format::iso(provenance.received_at)>{format::date(provenance.received_at)}</time>"."
        </p>
    }
}

/// Per-source freshness: "up to date as of" from each feed's last delivery.
#[component]
fn SourceFreshnessList(sources: Vec<SourceFreshness>) -> impl IntoView {
    (!sources.is_empty()).then(|| {
        view! {
            <details class="nhsuk-details">
                <summary class="nhsuk-details__summary">
                    <span class="nhsuk-details__summary-text">"Where this information comes from"</span>
                </summary>
                <div class="nhsuk-details__text">
                    <ul class="nhsuk-list">
                        {sources.into_iter().map(|s| view! {
                            <li>
                                <strong>{s.name}</strong>": "
                                {match s.up_to_date_as_of {
                                    Some(at) => format!("up to date as of {}", format::date_and_time(at)),
                                    None => "nothing received yet".to_owned(),
                                }}
                            </li>
                        }).collect_view()}
                    </ul>
                    <p>"Organisations send updates at different times, so something recent may not be here yet."</p>
                </div>
            </details>
        }
    })
}

/// The filter form: type, source and dates, always visible, with a reset link. A plain
/// GET form, so it works without JavaScript; mistakes are shown next to their field
/// and the other filters still apply.
#[component]
fn FilterForm(
    action: &'static str,
    filter: RecordFilter,
    problems: Vec<FilterProblem>,
    sources: Vec<SourceFreshness>,
    /// (value, label) of the type filter; empty for no type filter.
    kinds: Vec<(&'static str, &'static str)>,
    kind_label: &'static str,
) -> impl IntoView {
    let problem_for = {
        let problems = problems.clone();
        move |field: &str| {
            problems
                .iter()
                .find(|p| p.field == field)
                .map(|p| p.message.clone())
        }
    };
    let group_class = |error: &Option<String>| {
        if error.is_some() {
            "nhsuk-form-group nhsuk-form-group--error"
        } else {
            "nhsuk-form-group"
        }
    };
    let kind_error = problem_for("kind");
    let source_error = problem_for("source");
    let from_error = problem_for("from");
    let to_error = problem_for("to");
    let selected_kind = filter.kind.clone().unwrap_or_default();
    let selected_source = filter.source.clone().unwrap_or_default();
    view! {
        {(!problems.is_empty()).then(|| view! {
            <div class="nhsuk-error-summary" aria-labelledby="filter-error-title" role="alert" tabindex="-1">
                <h2 class="nhsuk-error-summary__title" id="filter-error-title">"There is a problem with the filters"</h2>
                <div class="nhsuk-error-summary__body">
                    <ul class="nhsuk-list nhsuk-error-summary__list">
                        {problems.iter().map(|p| view! {
                            <li><a href=format!("#filter-{}", p.field)>{p.message.clone()}</a></li>
                        }).collect_view()}
                    </ul>
                </div>
            </div>
        })}
        <form class="app-filter" method="get" action=action aria-label="Filter">
            <h2 class="nhsuk-heading-s">"Filter"</h2>
            {(!kinds.is_empty()).then(|| view! {
                <div class=group_class(&kind_error)>
                    <label class="nhsuk-label" for="filter-kind">{kind_label}</label>
                    {kind_error.clone().map(|e| view! { <span class="nhsuk-error-message" id="filter-kind-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{e}</span> })}
                    <select class="nhsuk-select" id="filter-kind" name="kind">
                        <option value="" selected=selected_kind.is_empty()>"Any"</option>
                        {kinds.iter().map(|(value, label)| view! {
                            <option value=*value selected=selected_kind == *value>{*label}</option>
                        }).collect_view()}
                    </select>
                </div>
            })}
            <div class=group_class(&source_error)>
                <label class="nhsuk-label" for="filter-source">"Organisation"</label>
                {source_error.clone().map(|e| view! { <span class="nhsuk-error-message" id="filter-source-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{e}</span> })}
                <select class="nhsuk-select" id="filter-source" name="source">
                    <option value="" selected=selected_source.is_empty()>"Any organisation"</option>
                    {sources.iter().map(|s| view! {
                        <option value=s.ods_code.clone() selected=selected_source == s.ods_code>{s.name.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class=group_class(&from_error)>
                <label class="nhsuk-label" for="filter-from">"From date"</label>
                <div class="nhsuk-hint" id="filter-from-hint">"For example, 14/3/2026"</div>
                {from_error.clone().map(|e| view! { <span class="nhsuk-error-message" id="filter-from-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{e}</span> })}
                <input class="nhsuk-input nhsuk-input--width-10" id="filter-from" name="from" type="text" autocomplete="off"
                    aria-describedby="filter-from-hint" value=filter.from.clone().unwrap_or_default()/>
            </div>
            <div class=group_class(&to_error)>
                <label class="nhsuk-label" for="filter-to">"To date"</label>
                <div class="nhsuk-hint" id="filter-to-hint">"For example, 22/11/2026"</div>
                {to_error.clone().map(|e| view! { <span class="nhsuk-error-message" id="filter-to-error"><span class="nhsuk-u-visually-hidden">"Error: "</span>{e}</span> })}
                <input class="nhsuk-input nhsuk-input--width-10" id="filter-to" name="to" type="text" autocomplete="off"
                    aria-describedby="filter-to-hint" value=filter.to.clone().unwrap_or_default()/>
            </div>
            <div class="app-filter__actions">
                <button class="nhsuk-button nhsuk-button--secondary" type="submit" data-module="nhsuk-button">"Apply filters"</button>
                <a class="app-filter__reset" href=action>"Clear filters"</a>
            </div>
        </form>
    }
}

/// The filter named in the address, as the pages pass it to their server function.
fn filter_from_query() -> impl Fn() -> RecordFilter + Copy {
    let query = use_query_map();
    move || {
        query.with(|q| RecordFilter {
            kind: q.get("kind"),
            source: q.get("source"),
            from: q.get("from"),
            to: q.get("to"),
        })
    }
}

fn count_text(count: usize, one: &str, many: &str) -> String {
    match count {
        0 => format!("No {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

// --- Overview ----------------------------------------------------------------------

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
fn RecordHome(summary: HomeSummary) -> impl IntoView {
    let greeting = match &summary.given_name {
        Some(name) => format!("Hello, {name}"),
        None => "Your record".to_owned(),
    };
    let since = match summary.last_visit {
        Some(at) => format!("New since your last visit on {}", format::date(at)),
        None => "New in your record".to_owned(),
    };
    view! {
        <h1>{greeting}</h1>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h2>"Your next appointments"</h2>
                {if summary.next_appointments.is_empty() {
                    view! { <p>"You have no upcoming appointments."</p> }.into_any()
                } else {
                    view! {
                        <ul class="nhsuk-list app-card-list">
                            {summary.next_appointments.into_iter().map(|a| view! { <li><AppointmentCard appointment=a/></li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <p><a href="/record/appointments">"See all your appointments"</a></p>

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
                <h2 class="nhsuk-heading-s">"Your record"</h2>
                <ul class="nhsuk-list">
                    <li><a href="/record/appointments">"Appointments"</a></li>
                    <li><a href="/record/letters">"Letters and documents"</a></li>
                    <li><a href="/record/results">"Test results"</a></li>
                </ul>
                <SourceFreshnessList sources=summary.sources/>
            </div>
        </div>
    }
}

// --- Appointments ------------------------------------------------------------------

fn channel_label(channel: DeliveryChannel) -> &'static str {
    match channel {
        DeliveryChannel::InPerson => "In person",
        DeliveryChannel::Telephone => "Telephone appointment",
        DeliveryChannel::Video => "Video appointment",
    }
}

#[component]
fn AppointmentCard(appointment: AppointmentEntry) -> impl IntoView {
    let ItemDetails::Appointment {
        specialty,
        place,
        channel,
        instructions,
        cancellation_reason,
        description,
        ..
    } = appointment.details
    else {
        return ().into_any();
    };
    let when = appointment.starts_at.map(|at| {
        view! {
            <time datetime=format::iso(at)>{format!("{}, {}", format::day_and_date(at), format::time(at))}</time>
        }
    });
    let heading_class = if appointment.cancelled {
        "nhsuk-card__heading nhsuk-heading-s app-cancelled"
    } else {
        "nhsuk-card__heading nhsuk-heading-s"
    };
    view! {
        <div class="nhsuk-card app-record-card">
            <div class="nhsuk-card__content">
                <h3 class=heading_class>
                    {appointment.cancelled.then(|| view! { <strong class="nhsuk-tag nhsuk-tag--red">"Cancelled"</strong>" " })}
                    {appointment.title}
                </h3>
                <dl class="nhsuk-summary-list app-summary-list--compact">
                    {when.map(|when| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"When"</dt><dd class="nhsuk-summary-list__value">{when}</dd></div> })}
                    {channel.map(|c| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"How"</dt><dd class="nhsuk-summary-list__value">{channel_label(c)}</dd></div> })}
                    {place.map(|p| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"Where"</dt><dd class="nhsuk-summary-list__value">{p}</dd></div> })}
                    {specialty.map(|s| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"Service"</dt><dd class="nhsuk-summary-list__value">{s}</dd></div> })}
                    {description.map(|d| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"Details"</dt><dd class="nhsuk-summary-list__value">{d}</dd></div> })}
                    {cancellation_reason.map(|r| view! { <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">"Reason for cancellation"</dt><dd class="nhsuk-summary-list__value">{r}</dd></div> })}
                </dl>
                {instructions.map(|i| view! {
                    <div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">"Instructions: "</span><p>{i}</p></div>
                })}
                <ProvenanceLine provenance=appointment.provenance/>
            </div>
        </div>
    }
    .into_any()
}

#[component]
pub fn AppointmentsPage() -> impl IntoView {
    let filter = filter_from_query();
    let list = Resource::new(filter, |f| {
        list_appointments(f.kind, f.source, f.from, f.to)
    });
    view! {
        <Title text="Appointments - Your health record"/>
        <RecordNav current="/record/appointments"/>
        <h1>"Appointments"</h1>
        <Suspense fallback=|| view! { <p>"Loading appointments…"</p> }>
            {move || list.get().map(|result| match result {
                Ok(list) => {
                    let (upcoming, past): (Vec<_>, Vec<_>) = list.entries.into_iter().partition(|a| a.upcoming);
                    view! {
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-one-third">
                                <FilterForm action="/record/appointments" filter=list.filter problems=list.problems
                                    sources=list.sources.clone() kinds=vec![("upcoming", "Upcoming"), ("past", "Past")] kind_label="Upcoming or past"/>
                            </div>
                            <div class="nhsuk-grid-column-two-thirds">
                                <h2>"Upcoming"</h2>
                                <p class="nhsuk-body-s">{count_text(upcoming.len(), "upcoming appointment", "upcoming appointments")}</p>
                                <ul class="nhsuk-list app-card-list">
                                    {upcoming.into_iter().map(|a| view! { <li><AppointmentCard appointment=a/></li> }).collect_view()}
                                </ul>
                                <h2>"Past"</h2>
                                <p class="nhsuk-body-s">{count_text(past.len(), "past appointment", "past appointments")}</p>
                                <ul class="nhsuk-list app-card-list">
                                    {past.into_iter().map(|a| view! { <li><AppointmentCard appointment=a/></li> }).collect_view()}
                                </ul>
                                <SourceFreshnessList sources=list.sources/>
                            </div>
                        </div>
                    }.into_any()
                }
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

// --- Letters -----------------------------------------------------------------------

fn letter_date(letter: &LetterEntry) -> Option<String> {
    match letter.details() {
        Some(ItemDetails::Document { date: Some(d), .. }) => Some(format::partial_date(d)),
        _ => letter.occurred_at.map(format::date),
    }
}

/// What to say of a letter that cannot be shown yet, and who will release it.
fn letter_waiting_text(letter: &LetterEntry) -> Option<String> {
    let source = &letter.provenance.source_name;
    match &letter.content {
        LetterContent::Available { .. } => None,
        LetterContent::Withheld { opens_at } => Some(format!(
            "Document received, available on {}.",
            format::date(*opens_at)
        )),
        LetterContent::InProgress => Some(format!(
            "This document is not final yet. {source} will share it when it is."
        )),
        LetterContent::HeldForClinician => Some(format!(
            "Document received. Your clinical team at {source} will release it after they have reviewed it."
        )),
    }
}

#[component]
pub fn LettersPage() -> impl IntoView {
    let filter = filter_from_query();
    let list = Resource::new(filter, |f| list_letters(f.source, f.from, f.to));
    view! {
        <Title text="Letters and documents - Your health record"/>
        <RecordNav current="/record/letters"/>
        <h1>"Letters and documents"</h1>
        <Suspense fallback=|| view! { <p>"Loading letters…"</p> }>
            {move || list.get().map(|result| match result {
                Ok(list) => view! {
                    <div class="nhsuk-grid-row">
                        <div class="nhsuk-grid-column-one-third">
                            <FilterForm action="/record/letters" filter=list.filter problems=list.problems
                                sources=list.sources.clone() kinds=vec![] kind_label=""/>
                        </div>
                        <div class="nhsuk-grid-column-two-thirds">
                            <p class="nhsuk-body-s">{count_text(list.entries.len(), "letter or document", "letters or documents")}</p>
                            <ul class="nhsuk-list app-card-list">
                                {list.entries.into_iter().map(|letter| {
                                    let date = letter_date(&letter);
                                    let kind = match letter.details() {
                                        Some(ItemDetails::Document { document_type, .. }) => document_type.clone(),
                                        _ => None,
                                    };
                                    let waiting = letter_waiting_text(&letter);
                                    view! {
                                        <li>
                                            <div class="nhsuk-card nhsuk-card--clickable app-record-card">
                                                <div class="nhsuk-card__content">
                                                    <h2 class="nhsuk-card__heading nhsuk-heading-s">
                                                        <a class="nhsuk-card__link" href=format!("/record/letters/{}", letter.public_id)>{letter.title}</a>
                                                    </h2>
                                                    {kind.map(|k| view! { <p class="nhsuk-card__description">{k}</p> })}
                                                    {waiting.map(|w| view! {
                                                        <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
                                                        <p>{w}</p>
                                                    })}
                                                    {date.map(|d| view! { <p class="nhsuk-body-s">"Dated "{d}</p> })}
                                                    <ProvenanceLine provenance=letter.provenance/>
                                                </div>
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <SourceFreshnessList sources=list.sources/>
                        </div>
                    </div>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn LetterPage() -> impl IntoView {
    let params = use_params_map();
    let letter = Resource::new(
        move || params.with(|p| p.get("id").unwrap_or_default()),
        get_letter,
    );
    view! {
        <RecordNav current="/record/letters"/>
        <Suspense fallback=|| view! { <p>"Loading letter…"</p> }>
            {move || letter.get().map(|result| match result {
                Ok(letter) => view! { <LetterView letter/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn LetterView(letter: LetterEntry) -> impl IntoView {
    let date = letter_date(&letter);
    if let Some(waiting) = letter_waiting_text(&letter) {
        return view! {
            <Title text=format!("{} - Your health record", letter.title)/>
            <nav class="nhsuk-back-link" aria-label="Back"><a class="nhsuk-back-link__link" href="/record/letters">"Back to letters and documents"</a></nav>
            <h1>{letter.title}</h1>
            <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
            <p>{waiting}</p>
            <ProvenanceLine provenance=letter.provenance/>
        }
        .into_any();
    }
    let LetterContent::Available {
        details:
            ItemDetails::Document {
                description,
                sections,
                attachments,
                ..
            },
    } = letter.content
    else {
        return ().into_any();
    };
    let id = letter.public_id.clone();
    view! {
        <Title text=format!("{} - Your health record", letter.title)/>
        <nav class="nhsuk-back-link" aria-label="Back"><a class="nhsuk-back-link__link" href="/record/letters">"Back to letters and documents"</a></nav>
        <h1>{letter.title}</h1>
        {date.map(|d| view! { <p class="nhsuk-lead-text">"Dated "{d}</p> })}
        <ProvenanceLine provenance=letter.provenance/>
        {description.map(|d| view! { <p>{d}</p> })}
        {sections.into_iter().map(|section| view! {
            <section class="app-document-section">
                {section.title.map(|t| view! { <h2>{t}</h2> })}
                // Sanitised at ingest (only harmless formatting survives).
                <div class="app-narrative" inner_html=section.narrative_xhtml></div>
            </section>
        }).collect_view()}
        {(!attachments.is_empty()).then(|| view! {
            <h2>"Attached documents"</h2>
            <ul class="nhsuk-list">
                {attachments.into_iter().filter_map(|a| {
                    let sha = a.sha256.clone()?;
                    let name = a.title.clone().unwrap_or_else(|| "Document".to_owned());
                    let kind = if a.content_type == "application/pdf" { "PDF" } else { "file" };
                    let size = a.size.map(|s| format!(", {} KB", s.div_ceil(1024))).unwrap_or_default();
                    let href = format!("/record/letters/{id}/attachments/{sha}");
                    Some(view! {
                        <li class="app-attachment">
                            <a href=href.clone() rel="external">{format!("View {name} ({kind}{size})")}</a>
                            " · "
                            <a href=format!("{href}?download=1") rel="external" download="">{format!("Download {name}")}</a>
                        </li>
                    })
                }).collect_view()}
            </ul>
        })}
    }
    .into_any()
}

// --- Results -----------------------------------------------------------------------

fn interpretation_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "H" => "High",
        "HH" | "HU" => "Very high",
        "L" => "Low",
        "LL" | "LU" => "Very low",
        "A" | "AA" => "Abnormal",
        "POS" => "Positive",
        "NEG" => "Negative",
        "N" => "Normal",
        _ => return None,
    })
}

fn value_text(value: &Option<ObservedValue>) -> String {
    match value {
        Some(ObservedValue::Quantity {
            value,
            comparator,
            unit,
        }) => format!(
            "{}{} {}",
            comparator.as_deref().unwrap_or(""),
            value,
            unit.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned(),
        Some(ObservedValue::Text { text }) => text.clone(),
        Some(ObservedValue::Coded { coding }) => coding
            .display
            .clone()
            .or(coding.code.clone())
            .unwrap_or_default(),
        Some(ObservedValue::Absent { reason }) => format!("No result ({reason})"),
        None => "No value".to_owned(),
    }
}

fn range_text(range: &Option<ReferenceRange>) -> String {
    match range {
        Some(ReferenceRange {
            low: Some(low),
            high: Some(high),
            unit,
            ..
        }) => format!("{low} to {high} {}", unit.as_deref().unwrap_or(""))
            .trim()
            .to_owned(),
        Some(ReferenceRange {
            low: Some(low),
            unit,
            ..
        }) => format!("above {low} {}", unit.as_deref().unwrap_or(""))
            .trim()
            .to_owned(),
        Some(ReferenceRange {
            high: Some(high),
            unit,
            ..
        }) => format!("below {high} {}", unit.as_deref().unwrap_or(""))
            .trim()
            .to_owned(),
        Some(ReferenceRange { text: Some(t), .. }) => t.clone(),
        _ => "Not given".to_owned(),
    }
}

/// The flag in words, with colour only as a second signal.
#[component]
fn Flag(abnormal: Option<bool>, interpretation: Option<String>) -> impl IntoView {
    let words = interpretation.as_deref().and_then(interpretation_words);
    match (abnormal, words) {
        (Some(true), words) => view! {
            <strong class="nhsuk-tag nhsuk-tag--red">{words.unwrap_or("Outside usual range")}</strong>
        }
        .into_any(),
        (_, Some(words)) => view! { <strong class="nhsuk-tag nhsuk-tag--grey">{words}</strong> }.into_any(),
        _ => view! { <span>"None"</span> }.into_any(),
    }
}

#[component]
fn ObservationTable(observations: Vec<ObservationEntry>, caption: String) -> impl IntoView {
    view! {
        <table class="nhsuk-table app-results-table">
            <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">{caption}</caption>
            <thead class="nhsuk-table__head">
                <tr>
                    <th scope="col" class="nhsuk-table__header">"Test"</th>
                    <th scope="col" class="nhsuk-table__header">"Result"</th>
                    <th scope="col" class="nhsuk-table__header">"Usual range"</th>
                    <th scope="col" class="nhsuk-table__header">"Flag"</th>
                </tr>
            </thead>
            <tbody class="nhsuk-table__body">
                {observations.into_iter().map(|o| {
                    let ItemDetails::Observation { value, reference_range, interpretation, note, .. } = o.details else {
                        return ().into_any();
                    };
                    let row_class = if o.abnormal == Some(true) { "nhsuk-table__row app-abnormal" } else { "nhsuk-table__row" };
                    view! {
                        <tr class=row_class>
                            <th scope="row" class="nhsuk-table__cell">
                                {match o.code {
                                    Some(code) => view! {
                                        <a href=format!("/record/history?code={}", urlencode(&code))>{o.title.clone()}</a>
                                    }.into_any(),
                                    None => view! { <span>{o.title.clone()}</span> }.into_any(),
                                }}
                                {note.map(|n| view! { <span class="nhsuk-body-s app-note">{n}</span> })}
                            </th>
                            <td class="nhsuk-table__cell">{value_text(&value)}</td>
                            <td class="nhsuk-table__cell">{range_text(&reference_range)}</td>
                            <td class="nhsuk-table__cell"><Flag abnormal=o.abnormal interpretation/></td>
                        </tr>
                    }.into_any()
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Percent-encodes a test code for a query string (codes are usually `718-7`, but a
/// lab's local code can contain anything).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A result in a list: available ones link to their page and show their values;
/// withheld ones say only that they exist and when they open.
#[component]
fn ResultCard(result: ResultEntry) -> impl IntoView {
    match result {
        ResultEntry::Available {
            public_id,
            title,
            category,
            occurred_at,
            occurred_text,
            report,
            observations,
            provenance,
        } => {
            let when = occurred_at
                .map(format::date)
                .or(occurred_text.as_deref().map(format::partial_date));
            let conclusion = match &report {
                Some(ItemDetails::DiagnosticReport {
                    conclusion, text, ..
                }) => conclusion.clone().or(text.as_ref().map(|_| {
                    "The report is written as text: open it to read it.".to_owned()
                })),
                _ => None,
            };
            let abnormal = observations.iter().filter(|o| o.abnormal == Some(true)).count();
            let caption = format!("Results of {title}");
            view! {
                <div class="nhsuk-card app-record-card">
                    <div class="nhsuk-card__content">
                        <h3 class="nhsuk-card__heading nhsuk-heading-s">
                            <a href=format!("/record/results/{public_id}")>{title}</a>
                        </h3>
                        <p class="nhsuk-body-s">
                            {ResultType::of_category(category.as_deref()).label()}
                            {when.map(|w| format!(", taken {w}"))}
                        </p>
                        {(abnormal > 0).then(|| view! {
                            <p><strong class="nhsuk-tag nhsuk-tag--red">{count_text(abnormal, "result outside the usual range", "results outside the usual range")}</strong></p>
                        })}
                        {conclusion.map(|c| view! { <p>{c}</p> })}
                        {(!observations.is_empty()).then(|| view! { <ObservationTable observations caption/> })}
                        <ProvenanceLine provenance/>
                    </div>
                </div>
            }
            .into_any()
        }
        ResultEntry::Withheld {
            title,
            opens_at,
            provenance,
            ..
        } => view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
                    <p>"Result received, available on "<time datetime=format::iso(opens_at)>{format::date(opens_at)}</time>"."</p>
                    <p class="nhsuk-body-s">"Some results are shared after a short wait, so that your care team can talk to you about them first."</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }
        .into_any(),
        ResultEntry::HeldForClinician {
            title, provenance, ..
        } => view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
                    <p>{format!("Result received. Your clinical team at {} will release it after they have reviewed it.", provenance.source_name)}</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }
        .into_any(),
        ResultEntry::InProgress {
            title, provenance, ..
        } => view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"In progress"</strong></p>
                    <p>{format!("This test is not finished yet. {} will share the result when it is final.", provenance.source_name)}</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }
        .into_any(),
    }
}

#[component]
pub fn ResultsPage() -> impl IntoView {
    let filter = filter_from_query();
    let list = Resource::new(filter, |f| list_results(f.kind, f.source, f.from, f.to));
    let kinds: Vec<(&'static str, &'static str)> = ResultType::ALL
        .iter()
        .map(|t| (t.code(), t.label()))
        .collect();
    view! {
        <Title text="Test results - Your health record"/>
        <RecordNav current="/record/results"/>
        <h1>"Test results"</h1>
        <Suspense fallback=|| view! { <p>"Loading test results…"</p> }>
            {move || list.get().map(|result| match result {
                Ok(list) => view! {
                    <div class="nhsuk-grid-row">
                        <div class="nhsuk-grid-column-one-third">
                            <FilterForm action="/record/results" filter=list.filter problems=list.problems
                                sources=list.sources.clone() kinds=kinds.clone() kind_label="Type of test"/>
                        </div>
                        <div class="nhsuk-grid-column-two-thirds">
                            <p class="nhsuk-body-s">{count_text(list.entries.len(), "result", "results")}</p>
                            <ul class="nhsuk-list app-card-list">
                                {list.entries.into_iter().map(|r| view! { <li><ResultCard result=r/></li> }).collect_view()}
                            </ul>
                            <SourceFreshnessList sources=list.sources/>
                        </div>
                    </div>
                }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn ResultPage() -> impl IntoView {
    let params = use_params_map();
    let result = Resource::new(
        move || params.with(|p| p.get("id").unwrap_or_default()),
        get_result,
    );
    view! {
        <RecordNav current="/record/results"/>
        <Suspense fallback=|| view! { <p>"Loading result…"</p> }>
            {move || result.get().map(|result| match result {
                Ok(result) => view! { <ResultView result/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn ResultView(result: ResultEntry) -> impl IntoView {
    let title = result.title().to_owned();
    let body = match result {
        ResultEntry::Available {
            report: Some(ItemDetails::DiagnosticReport {
                conclusion, text, ..
            }),
            observations,
            provenance,
            occurred_at,
            ..
        } => view! {
            {occurred_at.map(|at| view! { <p class="nhsuk-lead-text">"Taken "{format::date_and_time(at)}</p> })}
            <ProvenanceLine provenance/>
            {conclusion.map(|c| view! { <h2>"Conclusion"</h2><p>{c}</p> })}
            {text.map(|t| view! { <h2>"Report"</h2><p class="app-report-text">{t}</p> })}
            {(!observations.is_empty()).then(|| view! {
                <h2>"Results"</h2>
                <ObservationTable observations caption="Results".to_owned()/>
            })}
        }
        .into_any(),
        other => view! { <ul class="nhsuk-list"><li><ResultCard result=other/></li></ul> }.into_any(),
    };
    view! {
        <Title text=format!("{title} - Your health record")/>
        <nav class="nhsuk-back-link" aria-label="Back"><a class="nhsuk-back-link__link" href="/record/results">"Back to test results"</a></nav>
        <h1>{title}</h1>
        {body}
        <div class="nhsuk-inset-text">
            <span class="nhsuk-u-visually-hidden">"Information: "</span>
            <p>"If you have questions about a result, contact the team that asked for the test."</p>
        </div>
    }
}

// --- History -----------------------------------------------------------------------

#[component]
pub fn ResultHistoryPage() -> impl IntoView {
    let query = use_query_map();
    let history = Resource::new(
        move || query.with(|q| q.get("code").unwrap_or_default()),
        get_result_history,
    );
    view! {
        <RecordNav current="/record/results"/>
        <Suspense fallback=|| view! { <p>"Loading history…"</p> }>
            {move || history.get().map(|result| match result {
                Ok(history) => view! { <HistoryView history/> }.into_any(),
                Err(error) => view! { <ProblemPage error/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn HistoryView(history: ResultHistory) -> impl IntoView {
    let unit = history.unit.clone().unwrap_or_default();
    let range = match (history.range_low, history.range_high) {
        (Some(low), Some(high)) => Some(format!("The usual range is {low} to {high} {unit}.")),
        _ => None,
    };
    view! {
        <Title text=format!("{} over time - Your health record", history.title)/>
        <nav class="nhsuk-back-link" aria-label="Back"><a class="nhsuk-back-link__link" href="/record/results">"Back to test results"</a></nav>
        <h1>{format!("{} over time", history.title)}</h1>
        <p>{format!("{} from every organisation that has sent this test.", count_text(history.points.len(), "result", "results"))}" "{range}</p>
        <HistoryChart history=history.clone()/>
        <table class="nhsuk-table">
            <caption class="nhsuk-table__caption">{format!("{} results", history.title)}</caption>
            <thead class="nhsuk-table__head">
                <tr>
                    <th scope="col" class="nhsuk-table__header">"Date"</th>
                    <th scope="col" class="nhsuk-table__header">"Result"</th>
                    <th scope="col" class="nhsuk-table__header">"Usual range"</th>
                    <th scope="col" class="nhsuk-table__header">"Flag"</th>
                    <th scope="col" class="nhsuk-table__header">"From"</th>
                </tr>
            </thead>
            <tbody class="nhsuk-table__body">
                {history.points.into_iter().rev().map(|p| view! {
                    <tr class="nhsuk-table__row">
                        <td class="nhsuk-table__cell"><a href=format!("/record/results/{}", p.result_public_id)>{format::date(p.at)}</a></td>
                        <td class="nhsuk-table__cell">{format!("{} {}", p.value_text, p.unit.clone().unwrap_or_default()).trim().to_owned()}</td>
                        <td class="nhsuk-table__cell">{p.range_text.clone().unwrap_or_else(|| "Not given".to_owned())}</td>
                        <td class="nhsuk-table__cell"><Flag abnormal=p.abnormal interpretation=p.flag.clone()/></td>
                        <td class="nhsuk-table__cell">{p.source_name.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A line chart of the numeric points, drawn on the server as SVG: the usual range
/// shaded, each point a circle (a diamond when outside the range, so colour is never
/// the only signal). The table beside it has the same data for anyone who would
/// rather read than look.
#[component]
fn HistoryChart(history: ResultHistory) -> impl IntoView {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 40.0;
    let points: Vec<(chrono::DateTime<chrono::Utc>, f64, bool)> = history
        .points
        .iter()
        .filter_map(|p| p.value.map(|v| (p.at, v, p.abnormal == Some(true))))
        .collect();
    if points.len() < 2 {
        return view! { <p>"There are not enough results with numbers to draw a chart."</p> }
            .into_any();
    }
    let values = points
        .iter()
        .map(|p| p.1)
        .chain(history.range_low)
        .chain(history.range_high);
    let (mut low, mut high) =
        values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((high - low) * 0.1).max(0.5);
    low -= pad;
    high += pad;
    let first = points[0].0.timestamp() as f64;
    let last = points[points.len() - 1].0.timestamp() as f64;
    let span = (last - first).max(1.0);
    let x = move |t: chrono::DateTime<chrono::Utc>| {
        LEFT + (t.timestamp() as f64 - first) / span * (WIDTH - LEFT - RIGHT)
    };
    let y = move |v: f64| TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM);
    let line: String = points
        .iter()
        .map(|(t, v, _)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect::<Vec<_>>()
        .join(" ");
    let band = match (history.range_low, history.range_high) {
        (Some(lo), Some(hi)) => Some((y(hi), y(lo) - y(hi))),
        _ => None,
    };
    let unit = history.unit.clone().unwrap_or_default();
    let ticks: Vec<f64> = (0..=4)
        .map(|i| low + (high - low) * f64::from(i) / 4.0)
        .collect();
    let summary = format!(
        "{} results from {} to {}, lowest {} and highest {} {}.",
        points.len(),
        format::date(points[0].0),
        format::date(points[points.len() - 1].0),
        points.iter().map(|p| p.1).fold(f64::MAX, f64::min),
        points.iter().map(|p| p.1).fold(f64::MIN, f64::max),
        unit
    );
    view! {
        <figure class="app-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby="chart-title chart-desc"
                xmlns="http://www.w3.org/2000/svg" class="app-chart__svg">
                <title id="chart-title">{format!("Chart of {} over time", history.title)}</title>
                <desc id="chart-desc">{summary.clone()}</desc>
                {band.map(|(top, height)| view! {
                    <rect class="app-chart__range" x=LEFT y=format!("{top:.1}") width=WIDTH - LEFT - RIGHT height=format!("{height:.1}")></rect>
                })}
                {ticks.into_iter().map(|v| view! {
                    <g>
                        <line class="app-chart__grid" x1=LEFT x2=WIDTH - RIGHT y1=format!("{:.1}", y(v)) y2=format!("{:.1}", y(v))></line>
                        <text class="app-chart__label" x=LEFT - 6.0 y=format!("{:.1}", y(v) + 4.0) text-anchor="end">{format!("{v:.1}")}</text>
                    </g>
                }).collect_view()}
                <text class="app-chart__label" x=LEFT y=HEIGHT - 8.0>{format::date(points[0].0)}</text>
                <text class="app-chart__label" x=WIDTH - RIGHT y=HEIGHT - 8.0 text-anchor="end">{format::date(points[points.len() - 1].0)}</text>
                <polyline class="app-chart__line" points=line fill="none"></polyline>
                {points.iter().map(|(t, v, abnormal)| {
                    let (cx, cy) = (x(*t), y(*v));
                    if *abnormal {
                        view! {
                            <path class="app-chart__point app-chart__point--abnormal"
                                d=format!("M{:.1},{:.1} l6,6 l-6,6 l-6,-6 z", cx, cy - 6.0)></path>
                        }.into_any()
                    } else {
                        view! { <circle class="app-chart__point" cx=format!("{cx:.1}") cy=format!("{cy:.1}") r="4.5"></circle> }.into_any()
                    }
                }).collect_view()}
            </svg>
            <figcaption class="nhsuk-body-s">
                {summary}" The shaded band is the usual range; a diamond marks a result outside it."
            </figcaption>
        </figure>
    }
    .into_any()
}
