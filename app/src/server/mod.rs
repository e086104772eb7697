//! Everything in `app` that only exists on the server: the state shared by server
//! functions, the clock, and storage. The browser build never sees this module.

pub mod access_log;
pub mod choices;
pub mod clock;
pub mod desk;
pub mod export;
pub mod proxy;
pub mod record_reader;
pub mod record_view;
pub mod sar;
pub mod state;
pub mod storage;
pub mod viewer;

pub use clock::{Clock, FixedClock, SystemClock};
pub use state::AppState;
pub use viewer::{SignedIn, Viewer, current_viewer, request_viewer};
