//! The pages around signing in and out: where people land after NHS login (cancelled,
//! refused, too young, unavailable, signed out), the explanation for people whose
//! identity is not yet verified, and the staff entrance.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::site::current_site_info;

/// `rel="external"` for links the server answers rather than the app's router.
fn external(href: &str) -> Option<&'static str> {
    (href.starts_with("/auth/") || href.starts_with("/staff/auth/")).then_some("external")
}

/// A simple page with a heading, paragraphs and one call to action.
#[component]
fn Notice(
    heading: &'static str,
    paragraphs: Vec<&'static str>,
    action: (&'static str, &'static str),
) -> impl IntoView {
    view! {
        <Title text=format!("{heading} - Your health record")/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>{heading}</h1>
                {paragraphs.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
                // Server routes (sign-in) are outside the app's router: `rel="external"` makes
                // the hydrated page load them from the server, as it does without JavaScript.
                <p><a class="nhsuk-button" href=action.0 rel=external(action.0) role="button" draggable="false">{action.1}</a></p>
            </div>
        </div>
    }
}

#[component]
pub fn SignInCancelledPage() -> impl IntoView {
    view! {
        <Notice
            heading="You chose not to continue"
            paragraphs=vec![
                "You did not give NHS login permission to share your details with this service, so you have not been signed in.",
                "Nothing has been shared. You can try again whenever you like.",
            ]
            action=("/auth/login", "Continue to NHS login")
        />
    }
}

#[component]
pub fn SignInProblemPage() -> impl IntoView {
    view! {
        <Notice
            heading="There was a problem signing you in"
            paragraphs=vec![
                "We could not check your sign-in with NHS login, so you have not been signed in.",
                "This can happen if you used the back button or waited too long. Try signing in again.",
            ]
            action=("/auth/login", "Try signing in again")
        />
    }
}

/// NHS login gave no date of birth (or one that is not a date): the age rule cannot be
/// checked, so the person is not signed in.
#[component]
pub fn AgeUnknownPage() -> impl IntoView {
    view! {
        <Notice
            heading="We could not confirm your age"
            paragraphs=vec![
                "This service is for people aged 13 and over, and NHS login did not give us your date of birth, so you have not been signed in.",
                "Check the details in your NHS login account, then try again. If the problem continues, contact the service desk.",
            ]
            action=("/auth/login", "Try signing in again")
        />
    }
}

#[component]
pub fn TooYoungPage() -> impl IntoView {
    view! {
        <Notice
            heading="You cannot use this service yet"
            paragraphs=vec![
                "You need to be 13 or over to see your health record here.",
                "A parent or carer may be able to see your record for you. You can also ask your GP surgery about your records.",
            ]
            action=("/", "Go to the home page")
        />
    }
}

#[component]
pub fn SignInUnavailablePage() -> impl IntoView {
    view! {
        <Notice
            heading="Sorry, you cannot sign in at the moment"
            paragraphs=vec![
                "NHS login is not available at the moment. Try again later.",
            ]
            action=("/", "Go to the home page")
        />
    }
}

#[component]
pub fn SignedOutPage() -> impl IntoView {
    view! {
        <Notice
            heading="You have signed out"
            paragraphs=vec![
                "You have signed out of Your health record.",
                "You may still be signed in to NHS login on this device. If you share this device, close all browser windows, or sign out on the NHS login website.",
            ]
            action=("/auth/login", "Sign in again")
        />
    }
}

/// For P5 and P0 users: signed in, but no records until they prove who they are.
#[component]
pub fn VerifyIdentityPage() -> impl IntoView {
    let site = current_site_info();
    view! {
        <Title text="Prove who you are to see your record - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                {match site.patient {
                        Some(patient) if patient.has_record => view! {
                            <h1>"Your identity is verified"</h1>
                            <p>"You can see your health record."</p>
                            <p><a href="/">"Go to your record"</a></p>
                        }.into_any(),
                        Some(_) => view! {
                            <h1>"Prove who you are to see your record"</h1>
                            <p>"You are signed in, but NHS login has not fully checked your identity yet, so we cannot show you any health information."</p>
                            <p>"To see your record, NHS login needs to check your identity with photo ID, such as a passport or driving licence. It usually takes a few minutes."</p>
                            <p><a class="nhsuk-button" href="/auth/login?step_up=1" rel="external" role="button" draggable="false">"Prove who you are with NHS login"</a></p>
                        }.into_any(),
                        None => view! {
                            <h1>"Sign in to see your record"</h1>
                            <p><a class="nhsuk-button" href="/auth/login" rel="external" role="button" draggable="false">"Continue to NHS login"</a></p>
                        }.into_any(),
                    }}
            </div>
        </div>
    }
}

/// The staff entrance: only a staff session opens it; a patient session never does.
#[component]
pub fn StaffHomePage() -> impl IntoView {
    let site = current_site_info();
    view! {
        <Title text="Service desk - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                {match site.staff {
                        Some(_) => view! { <crate::desk::pages::DeskHomePanel/> }.into_any(),
                        None => view! {
                            <h1>"Service desk"</h1>
                            <p>"This part of the service is for NHS service desk staff. Sign in with your organisation account."</p>
                            <p><a class="nhsuk-button" href="/staff/auth/login" rel="external" role="button" draggable="false">"Sign in as staff"</a></p>
                        }.into_any(),
                    }}
            </div>
        </div>
    }
}

#[component]
pub fn StaffRefusedPage() -> impl IntoView {
    view! {
        <Notice
            heading="You do not have access to the service desk"
            paragraphs=vec!["Your account does not have the service desk role. Ask your manager to request it for you."]
            action=("/", "Go to the home page")
        />
    }
}

#[component]
pub fn StaffSignInProblemPage() -> impl IntoView {
    view! {
        <Notice
            heading="There was a problem signing you in"
            paragraphs=vec!["We could not check your sign-in with your organisation. Try again."]
            action=("/staff/auth/login", "Try signing in again")
        />
    }
}

#[component]
pub fn StaffSignedOutPage() -> impl IntoView {
    view! {
        <Notice
            heading="You have signed out"
            paragraphs=vec!["You have signed out of the service desk."]
            action=("/staff", "Sign in again")
        />
    }
}
