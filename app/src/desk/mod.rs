//! The service desk console: the portal's third kind of user, who helps patients and
//! the people acting for them without ever seeing clinical content (results, letters,
//! appointment details). Staff with the service desk role only: staff sessions never
//! reach patient pages, and patients never reach the console.
//!
//! - `rules`: the pure rules (look-up reasons and lifetime, paging, what of a held item
//!   the desk may see);
//! - `api`: the wire types and server functions behind the pages;
//! - `pages`: the console's front page, finding a patient, the patient's page, and the
//!   held feed items queue (the proxy queues are `crate::proxy::pages`).

pub mod api;
pub mod pages;
pub mod rules;
