//! Appointments, upcoming and past, with cancellations marked.

use leptos::prelude::*;
use leptos_meta::Title;

use super::*;
use crate::components::format;
use crate::pages::ProblemPage;
use crate::records::api::*;
use crate::records::view::*;
use crate::records::{DeliveryChannel, ItemDetails};

pub(super) fn channel_label(channel: DeliveryChannel) -> &'static str {
    match channel {
        DeliveryChannel::InPerson => "In person",
        DeliveryChannel::Telephone => "Telephone appointment",
        DeliveryChannel::Video => "Video appointment",
    }
}

#[component]
pub(super) fn AppointmentCard(appointment: AppointmentEntry) -> impl IntoView {
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
                        <OutsideGrantNote show=list.outside_grant what="appointments"/>
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
