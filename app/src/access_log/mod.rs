//! "Who viewed my record": a page for the patient alone listing, in plain language, who
//! read or acted on their record, what part, when, and on whose behalf (the words are
//! `crate::audit::log`'s).
//!
//! - `api`: the wire types and the server function;
//! - `pages`: `/account/access-log`, filtered by who and paged, the patient's own views
//!   hidden unless asked for.

pub mod api;
pub mod pages;
