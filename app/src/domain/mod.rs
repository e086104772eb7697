//! Domain types shared by the browser and the server: parsed, validated values that carry
//! their own guarantees, so that code further in never has to check them again. Nothing in
//! here does I/O or reads a clock, which is why it also compiles for the browser.

pub mod account;
pub mod ids;
pub mod nhs_number;
pub mod ods_code;

pub use account::{Account, AccountRole, Organisation, Patient};
pub use ids::{AccountId, OrganisationId, PatientId};
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use ods_code::{OdsCode, OdsCodeError};
