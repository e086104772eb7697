//! Information pages linked from the footer.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AboutPage() -> impl IntoView {
    view! {
        <Title text="About this service - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"About this service"</h1>
                <p>"Your health record brings together information from the NHS organisations that care for you: hospital trusts, GP surgeries and community services."</p>
                <p>"Each organisation stays responsible for the information it shares. If something looks wrong, contact the organisation that sent it: only they can correct it."</p>
                <h2>"Test results"</h2>
                <p>"Some results are shared after a delay, so that your care team can talk to you about them first. For example, scan and X-ray reports are usually shared 28 days after they are issued."</p>
                <h2>"Information we do not show"</h2>
                <p>"Some kinds of information are never shown here, to protect you. These include sexual health, fertility treatment and some safeguarding information."</p>
            </div>
        </div>
    }
}

#[component]
pub fn AccessibilityPage() -> impl IntoView {
    view! {
        <Title text="Accessibility statement - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Accessibility statement"</h1>
                <p>"We want as many people as possible to be able to use this service. It is built with the NHS.UK design system and aims to meet the Web Content Accessibility Guidelines (WCAG) 2.2 at level AA."</p>
                <p>"Every page works without JavaScript, can be used with a keyboard alone, and is checked automatically for accessibility problems before each release."</p>
                <h2>"Reporting a problem"</h2>
                <p>"If you find a problem using this service, tell the service desk of the organisation that invited you to use it."</p>
            </div>
        </div>
    }
}

#[component]
pub fn PrivacyPage() -> impl IntoView {
    view! {
        <Title text="Privacy notice - Your health record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Privacy notice"</h1>
                <p>"This service shows you information that NHS organisations hold about you. Each organisation remains the controller of the information it shares."</p>
                <p>"We record every time someone other than you looks at your record, and you can see that list."</p>
                <p>"We use one cookie, which keeps you signed in. We do not use cookies for tracking or advertising."</p>
                <p>"You have the right to ask for a copy of your data, free of charge."</p>
            </div>
        </div>
    }
}
