//! Pages that belong to no particular area: the home page, information pages, and the
//! pages shown when something is missing or goes wrong.

mod auth;
mod home;
mod info;
mod problem;

pub use auth::*;
pub use home::HomePage;
pub use info::{AboutPage, AccessibilityPage, PrivacyPage};
pub use problem::{NotFoundPage, ProblemPage};
