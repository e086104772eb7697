//! The history of one repeated test: a chart where a person would rather look than
//! read, and the table of every value.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::results::Flag;
use super::*;
use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::api::*;
use crate::records::view::*;

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
pub(super) fn HistoryView(history: ResultHistory) -> impl IntoView {
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
pub(super) fn HistoryChart(history: ResultHistory) -> impl IntoView {
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
