//! The pages that belong to no one area: the home page, information pages, sign-in
//! outcomes, and the pages shown when something is missing or goes wrong. Each area's
//! own pages live in the area (`records::pages`), and are re-exported here for the
//! router.

mod auth;
mod home;
mod info;
mod problem;

pub use auth::*;
pub use home::HomePage;
pub use info::{AboutPage, AccessibilityPage, PrivacyPage};
pub use problem::{NotFoundPage, ProblemPage};
// The record's pages live with the rest of the record area (`records::pages`).
pub use crate::records::pages::{
    AppointmentsPage, LetterPage, LettersPage, RecordHomePage, ResultHistoryPage, ResultPage,
    ResultsPage,
};
