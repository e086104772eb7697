//! The signed-in patient's record pages: the overview, appointments, letters, test
//! results and the history of a repeated test, one file each, and the parts they share
//! (the record's navigation, provenance, the sources panel and the filter form). Each
//! page is rendered in full on the server (no JavaScript needed; filters are plain GET
//! forms) and hydrated in the browser. Pages only render what their server function
//! returns, which the access decision has already decided: a withheld result arrives as
//! a name and a date, nothing more.

mod appointments;
mod history;
mod letters;
mod overview;
mod results;

pub use appointments::AppointmentsPage;
pub use history::ResultHistoryPage;
pub use letters::{LetterPage, LettersPage};
pub use overview::RecordHomePage;
pub use results::{ResultPage, ResultsPage};

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::format;
use crate::records::view::*;

/// The record's own navigation, on every record page.
#[component]
pub(super) fn RecordNav(current: &'static str) -> impl IntoView {
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

/// For someone acting for the patient under a grant that does not open this section: a
/// note in place of a list that would look empty.
#[component]
pub(super) fn OutsideGrantNote(show: bool, what: &'static str) -> impl IntoView {
    show.then(|| {
        view! {
            <div class="nhsuk-inset-text">
                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>{format!("Your access to this record does not include {what}. The person whose record it is, or our service desk, decides what you can see.")}</p>
            </div>
        }
    })
}

/// "From Example Hospital. Received 3 November 2026."
#[component]
pub(super) fn ProvenanceLine(provenance: Provenance) -> impl IntoView {
    view! {
        <p class="nhsuk-body-s app-provenance">
            "From "{provenance.source_name}". Received "
            <time datetime=format::iso(provenance.received_at)>{format::date(provenance.received_at)}</time>"."
        </p>
    }
}

/// Per-source freshness: "up to date as of" from each feed's last delivery.
#[component]
pub(super) fn SourceFreshnessList(sources: Vec<SourceFreshness>) -> impl IntoView {
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
pub(super) fn FilterForm(
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
pub(super) fn filter_from_query() -> impl Fn() -> RecordFilter + Copy {
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

pub(super) fn count_text(count: usize, one: &str, many: &str) -> String {
    match count {
        0 => format!("No {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}
