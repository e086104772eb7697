//! The patient's choices about the portal (`shared/docs/domain.md`, "Choices and
//! opt-outs"): leaving the portal, objecting to a source, and the national data opt-out
//! (explained and linked, never stored).
//!
//! - `rules`: the pure rules (what each choice stops, coming back, which proxies are
//!   offered back), which the access decision (`crate::access`) consults;
//! - `api`: the wire types and the server function behind the "Your choices" page;
//! - `pages`: "Your choices" and its confirm steps.

pub mod api;
pub mod pages;
pub mod rules;
