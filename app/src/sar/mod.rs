//! Subject access requests (UK GDPR article 15; `shared/docs/domain.md`, "Subject access
//! requests"): a patient, or a proxy whose grant allows it, asks for a copy of their
//! data, and the service desk answers within the statutory time.
//!
//! - `rules`: the pure rules: the statutory clock (calendar month, bank holidays,
//!   pauses, extensions) and the request's state machine.
//!
//! Making and following a request, the desk's queue and the answer's download are
//! still to come (issue #14).

pub mod rules;
