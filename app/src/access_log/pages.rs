//! `/account/access-log`: "Who has seen your record", rendered on the server; the
//! filter is a GET form, so it works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::{AccessLogView, get_access_log};
use crate::desk::pages::Pagination;
use crate::pages::ProblemPage;

#[component]
pub fn AccessLogPage() -> impl IntoView {
    let query = use_query_map();
    let who = query.with_untracked(|q| q.get("who").unwrap_or_default());
    let own = query.with_untracked(|q| q.get("own").is_some_and(|v| v == "yes"));
    let page = query.with_untracked(|q| q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1));
    let log = OnceResource::new(get_access_log(who, own, page));
    view! {
        <Title text="Who has seen your record - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-full">
                <h1>"Who has seen your record"</h1>
                <p>"Everyone who has looked at or changed your record through this portal, other than you: people you let see it, and the service desk, who never see your health information. Your own visits are left out unless you ask for them."</p>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || log.get().map(|result| match result {
                        Ok(log) => view! { <AccessLog log/> }.into_any(),
                        Err(error) => view! { <ProblemPage error/> }.into_any(),
                    })}
                </Suspense>
            </div>
        </div>
    }
}

#[component]
fn AccessLog(log: AccessLogView) -> impl IntoView {
    let who = log.who.clone().unwrap_or_default();
    let link = {
        let who = who.clone();
        let own = log.own;
        move |page: u32| {
            let mut parts = Vec::new();
            if !who.is_empty() {
                parts.push(format!("who={who}"));
            }
            if own {
                parts.push("own=yes".to_owned());
            }
            parts.push(format!("page={page}"));
            format!("/account/access-log?{}", parts.join("&"))
        }
    };
    let previous = (log.page > 1).then(|| link(log.page - 1));
    let next = (log.page < log.pages).then(|| link(log.page + 1));
    view! {
        <form method="get" action="/account/access-log">
            <div class="nhsuk-form-group">
                <label class="nhsuk-label" for="who">"Who"</label>
                <select class="nhsuk-select" id="who" name="who">
                    <option value="">"Everyone"</option>
                    {log.filters.iter().map(|(code, label)| {
                        let selected = *code == who;
                        view! { <option value=code.clone() selected=selected>{label.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="nhsuk-form-group">
                <div class="nhsuk-checkboxes">
                    <div class="nhsuk-checkboxes__item">
                        <input class="nhsuk-checkboxes__input" id="own" name="own" type="checkbox" value="yes" checked=log.own/>
                        <label class="nhsuk-label nhsuk-checkboxes__label" for="own">"Include your own visits"</label>
                    </div>
                </div>
            </div>
            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Show"</button>
        </form>
        {if log.entries.is_empty() {
            view! { <p>"Nobody has seen your record yet."</p> }.into_any()
        } else {
            view! {
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption">{format!("{} entries, newest first (page {} of {})", log.total, log.page, log.pages)}</caption>
                    <thead class="nhsuk-table__head"><tr class="nhsuk-table__row">
                        <th class="nhsuk-table__header" scope="col">"When"</th>
                        <th class="nhsuk-table__header" scope="col">"Who"</th>
                        <th class="nhsuk-table__header" scope="col">"What"</th>
                    </tr></thead>
                    <tbody class="nhsuk-table__body">
                        {log.entries.into_iter().map(|e| view! {
                            <tr class="nhsuk-table__row">
                                <td class="nhsuk-table__cell">{e.at}</td>
                                <td class="nhsuk-table__cell">{e.name}<br/><span class="nhsuk-body-s">{e.who}</span></td>
                                <td class="nhsuk-table__cell">{e.what}{e.why.map(|why| view! { <br/><span class="nhsuk-body-s">{format!("Reason: {why}")}</span> })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <Pagination previous next label="Pages of the log"/>
    }
}
