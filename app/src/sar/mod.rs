//! Subject access requests (UK GDPR article 15; `shared/docs/domain.md`, "Subject access
//! requests"): a patient, or a proxy whose grant allows it, asks for a copy of their
//! data, and the service desk answers within the statutory time.
//!
//! - `rules`: the pure rules: the statutory clock (calendar month, bank holidays,
//!   pauses, extensions) and the request's state machine;
//! - `api`: the wire types and server functions behind the pages;
//! - `pages`: making and following a request; the desk's queue.
//!
//! The answer (a FHIR bundle and a readable copy, downloaded in the portal) is still
//! to come (issue #14): until then a request cannot be marked fulfilled.

pub mod api;
pub mod pages;
pub mod rules;
