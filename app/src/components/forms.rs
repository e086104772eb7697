//! Forms that work without JavaScript. A form posts (`method="post"`, with the session's
//! CSRF token) to its own page's address; the server's handler either redirects on
//! success or renders the same page again with a [`FormState`] in context: what was
//! typed (so nothing is lost), the problems, and for some forms the outcome to show
//! (the one-time code of a new invitation). Error messages follow the NHS.UK design
//! system: an error summary at the top linking to each field, and the message beside
//! the field.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::FieldProblem;

/// A submitted form, as the page shows it again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FormState {
    /// The form the state belongs to (a page may hold several).
    pub form: String,
    pub values: BTreeMap<String, String>,
    pub problems: Vec<FieldProblem>,
    /// What happened, when the form went through and the page says so itself.
    pub outcome: Option<FormOutcome>,
}

/// What a page shows after a form went through without a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormOutcome {
    /// A new invitation: the one-time code, shown once.
    InvitationCreated {
        code: String,
        name: String,
        expires_on: String,
    },
    /// An invitation found by its code, waiting for the invitee to accept it.
    InvitationFound {
        code: String,
        patient_name: String,
        relationship: String,
        sections: Vec<String>,
        until: Option<String>,
    },
}

impl FormState {
    /// The state of `form` on this page render, if it was just submitted.
    pub fn of(form: &str) -> Option<FormState> {
        use_context::<FormState>().filter(|state| state.form == form)
    }

    pub fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }

    pub fn problem(&self, field: &str) -> Option<String> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.clone())
    }
}

/// The value a field shows: what was typed, or `default`.
pub fn field_value(state: &Option<FormState>, field: &str, default: &str) -> String {
    match state {
        Some(state) if state.values.contains_key(field) => state.value(field),
        _ => default.to_owned(),
    }
}

/// The problem to show beside a field.
pub fn field_problem(state: &Option<FormState>, field: &str) -> Option<String> {
    state.as_ref().and_then(|s| s.problem(field))
}

/// "There is a problem", with a link to each field that needs correcting. Focused by
/// the design system's script when JavaScript runs.
#[component]
pub fn ErrorSummary(state: Option<FormState>) -> impl IntoView {
    let problems = state.map(|s| s.problems).unwrap_or_default();
    (!problems.is_empty()).then(|| {
        view! {
            <div class="nhsuk-error-summary" aria-labelledby="error-summary-title" role="alert" tabindex="-1" data-module="nhsuk-error-summary">
                <h2 class="nhsuk-error-summary__title" id="error-summary-title">"There is a problem"</h2>
                <div class="nhsuk-error-summary__body">
                    <ul class="nhsuk-list nhsuk-error-summary__list">
                        {problems.into_iter().map(|p| view! {
                            <li><a href=format!("#{}", p.field)>{p.message}</a></li>
                        }).collect_view()}
                    </ul>
                </div>
            </div>
        }
    })
}

/// A text input with its label, hint and error, as the design system draws it.
#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] input_type: Option<&'static str>,
    #[prop(optional)] width_class: Option<&'static str>,
    state: Option<FormState>,
) -> impl IntoView {
    let problem = field_problem(&state, name);
    let value = field_value(&state, name, "");
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described_by = [
        hint.map(|_| hint_id.clone()),
        problem.as_ref().map(|_| error_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let group_class = if problem.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    let input_class = format!(
        "nhsuk-input{}{}",
        width_class.map(|w| format!(" {w}")).unwrap_or_default(),
        if problem.is_some() {
            " nhsuk-input--error"
        } else {
            ""
        }
    );
    view! {
        <div class=group_class>
            <label class="nhsuk-label" for=name>{label}</label>
            {hint.map(|h| view! { <div class="nhsuk-hint" id=hint_id.clone()>{h}</div> })}
            {problem.map(|p| view! {
                <span class="nhsuk-error-message" id=error_id.clone()>
                    <span class="nhsuk-u-visually-hidden">"Error: "</span>{p}
                </span>
            })}
            <input class=input_class id=name name=name type=input_type.unwrap_or("text")
                value=value autocomplete=autocomplete
                aria-describedby=(!described_by.is_empty()).then_some(described_by)/>
        </div>
    }
}

/// The hidden CSRF token every form that changes something carries.
#[component]
pub fn CsrfField() -> impl IntoView {
    let token = crate::site::current_site_info()
        .patient
        .map(|p| p.csrf_token)
        .unwrap_or_default();
    view! { <input type="hidden" name="csrf_token" value=token/> }
}

/// The staff session's CSRF token.
#[component]
pub fn StaffCsrfField() -> impl IntoView {
    let token = crate::site::current_site_info()
        .staff
        .map(|s| s.csrf_token)
        .unwrap_or_default();
    view! { <input type="hidden" name="csrf_token" value=token/> }
}
