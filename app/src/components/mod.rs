//! The page frame every page shares, built from the NHS.UK design system's markup
//! (`nhsuk-frontend`): skip link, header, demo banner, main container and footer.

pub mod format;
pub mod forms;
mod layout;

pub use layout::{Layout, NhsLogo};
