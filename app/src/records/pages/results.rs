//! Test results as the lab sent them: the list, one result, and their cards.

use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::api::*;
use crate::records::view::*;
use crate::records::{ItemDetails, ObservedValue, ReferenceRange};

pub(super) fn interpretation_words(code: &str) -> Option<&'static str> {
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

pub(super) fn value_text(value: &Option<ObservedValue>) -> String {
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

pub(super) fn range_text(range: &Option<ReferenceRange>) -> String {
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
pub(super) fn Flag(abnormal: Option<bool>, interpretation: Option<String>) -> impl IntoView {
    let words = interpretation.as_deref().and_then(interpretation_words);
    match (abnormal, words) {
        (Some(true), words) => EitherOf3::A(view! {
            <strong class="nhsuk-tag nhsuk-tag--red">{words.unwrap_or("Outside usual range")}</strong>
        }),
        (_, Some(words)) => {
            EitherOf3::B(view! { <strong class="nhsuk-tag nhsuk-tag--grey">{words}</strong> })
        }
        _ => EitherOf3::C(view! { <span>"None"</span> }),
    }
}

#[component]
pub(super) fn ObservationTable(
    observations: Vec<ObservationEntry>,
    caption: String,
) -> impl IntoView {
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
                {observations.into_iter().filter_map(|o| {
                    let ItemDetails::Observation { value, reference_range, interpretation, note, .. } = o.details else {
                        return None;
                    };
                    let row_class = if o.abnormal == Some(true) { "nhsuk-table__row app-abnormal" } else { "nhsuk-table__row" };
                    Some(view! {
                        <tr class=row_class>
                            <th scope="row" class="nhsuk-table__cell">
                                {match o.code {
                                    Some(code) => Either::Left(view! {
                                        <a href=format!("/record/history?code={}", urlencode(&code))>{o.title}</a>
                                    }),
                                    None => Either::Right(view! { <span>{o.title}</span> }),
                                }}
                                {note.map(|n| view! { <span class="nhsuk-body-s app-note">{n}</span> })}
                            </th>
                            <td class="nhsuk-table__cell">{value_text(&value)}</td>
                            <td class="nhsuk-table__cell">{range_text(&reference_range)}</td>
                            <td class="nhsuk-table__cell"><Flag abnormal=o.abnormal interpretation/></td>
                        </tr>
                    })
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Percent-encodes a test code for a query string (codes are usually `718-7`, but a
/// lab's local code can contain anything).
pub(super) fn urlencode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte));
            }
            other => {
                // Writing to a String cannot fail.
                let _ = write!(encoded, "%{other:02X}");
            }
        }
    }
    encoded
}

/// A result in a list: available ones link to their page and show their values;
/// withheld ones say only that they exist and when they open.
#[component]
pub(super) fn ResultCard(result: ResultEntry) -> impl IntoView {
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
                }) => conclusion.clone().or(text
                    .as_ref()
                    .map(|_| "The report is written as text: open it to read it.".to_owned())),
                _ => None,
            };
            let abnormal = observations
                .iter()
                .filter(|o| o.abnormal == Some(true))
                .count();
            let caption = format!("Results of {title}");
            EitherOf4::A(view! {
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
            })
        }
        ResultEntry::Withheld {
            title,
            opens_at,
            provenance,
            ..
        } => EitherOf4::B(view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
                    <p>"Result received, available on "<time datetime=format::iso(opens_at)>{format::date(opens_at)}</time>"."</p>
                    <p class="nhsuk-body-s">"Some results are shared after a short wait, so that your care team can talk to you about them first."</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }),
        ResultEntry::HeldForClinician {
            title, provenance, ..
        } => EitherOf4::C(view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"Not available yet"</strong></p>
                    <p>{format!("Result received. Your clinical team at {} will release it after they have reviewed it.", provenance.source_name)}</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }),
        ResultEntry::InProgress {
            title, provenance, ..
        } => EitherOf4::D(view! {
            <div class="nhsuk-card app-record-card app-withheld">
                <div class="nhsuk-card__content">
                    <h3 class="nhsuk-card__heading nhsuk-heading-s">{title}</h3>
                    <p><strong class="nhsuk-tag nhsuk-tag--grey">"In progress"</strong></p>
                    <p>{format!("This test is not finished yet. {} will share the result when it is final.", provenance.source_name)}</p>
                    <ProvenanceLine provenance/>
                </div>
            </div>
        }),
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
                    <OutsideGrantNote show=list.outside_grant what="test results"/>
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
pub(super) fn ResultView(result: ResultEntry) -> impl IntoView {
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
