//! Letters and documents, and one letter with its attachments. A letter that cannot
//! be shown yet is named by its type and says who will share it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::ItemDetails;
use crate::records::api::*;
use crate::records::view::*;

pub(super) fn letter_date(letter: &LetterEntry) -> Option<String> {
    match letter.details() {
        Some(ItemDetails::Document { date: Some(d), .. }) => Some(format::partial_date(d)),
        _ => letter.occurred_at.map(format::date),
    }
}

/// What to say of a letter that cannot be shown yet, and who will release it.
pub(super) fn letter_waiting_text(letter: &LetterEntry) -> Option<String> {
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
                    <OutsideGrantNote show=list.outside_grant what="letters"/>
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
pub(super) fn LetterView(letter: LetterEntry) -> impl IntoView {
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
