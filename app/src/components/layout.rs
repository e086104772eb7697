//! The page frame. The markup follows the `nhsuk-frontend` header, footer and skip link
//! templates so that the design system's compiled CSS styles it unchanged.

use leptos::prelude::*;

use crate::site::{SiteInfo, current_site_info};

/// The NHS logo, as the design system draws it.
#[component]
pub fn NhsLogo() -> impl IntoView {
    view! {
        <svg class="nhsuk-header__logo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 80" height="40" width="100" focusable="false" role="img" aria-label="NHS">
            <title>"NHS"</title>
            <path fill="currentcolor" d="M200 0v80H0V0h200Zm-27.5 5.5c-14.5 0-29 5-29 22 0 10.2 7.7 13.5 14.7 16.3l.7.3c5.4 2 10.1 3.9 10.1 8.4 0 6.5-8.5 7.5-14 7.5s-12.5-1.5-16-3.5L135 70c5.5 2 13.5 3.5 20 3.5 15.5 0 32-4.5 32-22.5 0-19.5-25.5-16.5-25.5-25.5 0-5.5 5.5-6.5 12.5-6.5a35 35 0 0 1 14.5 3l4-13.5c-4.5-2-12-3-20-3Zm-131 2h-22l-14 65H22l9-45h.5l13.5 45h21.5l14-65H64l-9 45h-.5l-13-45Zm63 0h-18l-13 65h17l6-28H117l-5.5 28H129l13.5-65H125L119.5 32h-20l5-24.5Z"></path>
        </svg>
    }
}

/// Skip link, header, optional demo banner, the page's main content and footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let site = current_site_info();
    let menu = account_menu(&site);
    let banner = site.demo_mode.then(|| view! { <DemoBanner/> });
    let acting_for = site
        .patient
        .as_ref()
        .and_then(|p| {
            p.acting_for
                .clone()
                .map(|name| (name, p.csrf_token.clone()))
        })
        .map(|(name, csrf)| view! { <ActingForBanner name csrf/> });
    view! {
        <a class="nhsuk-skip-link" data-module="nhsuk-skip-link" href="#maincontent">
            "Skip to main content"
        </a>
        <header class="nhsuk-header" data-module="nhsuk-header" role="banner">
            <div class="nhsuk-header__container nhsuk-width-container">
                <div class="nhsuk-header__service">
                    <a class="nhsuk-header__service-logo" href="/" aria-label="Your health record homepage">
                        <NhsLogo/>
                    </a>
                    <span class="nhsuk-header__service-name">"Your health record"</span>
                </div>
                {menu}
            </div>
        </header>
        {banner}
        {acting_for}
        <div class="nhsuk-width-container">
            <main class="nhsuk-main-wrapper" id="maincontent" role="main">
                {children()}
            </main>
        </div>
        <footer class="nhsuk-footer" role="contentinfo">
            <div class="nhsuk-width-container">
                <div class="nhsuk-footer__meta">
                    <h2 class="nhsuk-u-visually-hidden">"Support links"</h2>
                    <ul class="nhsuk-footer__list">
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/about">"About this service"</a>
                        </li>
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/accessibility">"Accessibility statement"</a>
                        </li>
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/privacy">"Privacy notice"</a>
                        </li>
                    </ul>
                    <p class="nhsuk-body-s">"Records are shared by the NHS organisations that care for you."</p>
                </div>
            </div>
        </footer>
    }
}

/// "Sign out" for whoever is signed in: a plain form post carrying the session's CSRF
/// token, so it works with or without JavaScript.
fn account_menu(site: &SiteInfo) -> Option<impl IntoView + use<>> {
    let (action, csrf, label) = match (&site.patient, &site.staff) {
        (Some(patient), _) => (
            "/auth/logout",
            patient.csrf_token.clone(),
            "Signed in with NHS login",
        ),
        (None, Some(staff)) => (
            "/staff/auth/logout",
            staff.csrf_token.clone(),
            "Signed in as service desk staff",
        ),
        (None, None) => return None,
    };
    Some(view! {
        <nav class="nhsuk-header__account" aria-label="Account">
            <ul class="nhsuk-header__account-list">
                <li class="nhsuk-header__account-item">{label}</li>
                <li class="nhsuk-header__account-item">
                    <form class="nhsuk-header__account-form" action=action method="post">
                        <input type="hidden" name="csrf_token" value=csrf/>
                        <button class="nhsuk-header__account-button" type="submit">"Sign out"</button>
                    </form>
                </li>
            </ul>
        </nav>
    })
}

/// Shown on every page while someone acts for another person (domain rules, "Proxy
/// access"): whose record this is, unmistakably, and the way back to their own.
#[component]
fn ActingForBanner(name: String, csrf: String) -> impl IntoView {
    view! {
        <div class="app-acting-for" role="region" aria-label="Whose record this is">
            <div class="nhsuk-width-container app-acting-for__inner">
                <p class="app-acting-for__text">
                    "Acting for "<strong>{name}</strong>
                </p>
                <form class="app-acting-for__form" action="/proxy/choose" method="post">
                    <input type="hidden" name="csrf_token" value=csrf/>
                    <input type="hidden" name="choice" value="own"/>
                    <button class="app-acting-for__button" type="submit">"Switch to your own record"</button>
                </form>
                <a class="app-acting-for__link" href="/proxy/choose">"Choose another record"</a>
            </div>
        </div>
    }
}

/// Shown on every page when the built-in NHS login simulator is on, so that nobody
/// mistakes a demonstration for the real service.
#[component]
fn DemoBanner() -> impl IntoView {
    view! {
        <div class="nhsuk-width-container app-demo-banner" role="region" aria-label="Demonstration">
            <p class="nhsuk-body-s nhsuk-u-margin-bottom-0">
                <strong class="nhsuk-tag nhsuk-tag--orange">"Demo"</strong>
                " This is a demonstration. The people and records are made up, and sign-in uses a simulated NHS login."
            </p>
        </div>
    }
}
