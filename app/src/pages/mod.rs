//! The pages: the home page, information pages, sign-in outcomes, the patient's record,
//! and the pages shown when something is missing or goes wrong.

mod auth;
mod home;
mod info;
mod problem;
mod record;

pub use auth::*;
pub use home::HomePage;
pub use info::{AboutPage, AccessibilityPage, PrivacyPage};
pub use problem::{NotFoundPage, ProblemPage};
pub use record::{
    AppointmentsPage, LetterPage, LettersPage, RecordHomePage, ResultHistoryPage, ResultPage,
    ResultsPage,
};
