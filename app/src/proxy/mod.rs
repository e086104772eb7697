//! Proxy access: carers, parents and attorneys acting for a patient with their own NHS
//! login, within a grant the patient or the service desk controls (NHS standard
//! DAPB3051; `shared/docs/domain.md`, "Proxy access").
//!
//! - `rules`: the pure rules (grant status from the clock, lapse, age rules,
//!   invitations), which the one access decision (`crate::access`) consults when the
//!   basis of a read is a grant;
//! - `api`: the wire types and server functions behind the pages;
//! - `pages`: "People who can see your record", inviting, accepting, applying, choosing
//!   whose record to open, and the service desk's verification queue.

pub mod api;
pub mod pages;
pub mod rules;
