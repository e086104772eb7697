//! ODS codes: the Organisation Data Service identifiers of NHS organisations
//! (for example `RRV` for a trust, `F83004` for a GP practice, `RRV01` for a site).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The FHIR identifier system for ODS organisation codes.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// An ODS code: 3 to 10 upper-case letters and digits. Input is trimmed and upper-cased,
/// because senders are not consistent about case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OdsCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OdsCodeError {
    #[error("an ODS code has 3 to 10 characters")]
    WrongLength,
    #[error("an ODS code contains only letters and digits")]
    BadCharacter,
}

impl OdsCode {
    pub fn parse(input: &str) -> Result<Self, OdsCodeError> {
        let code = input.trim().to_ascii_uppercase();
        if !(3..=10).contains(&code.len()) {
            return Err(OdsCodeError::WrongLength);
        }
        if !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(OdsCodeError::BadCharacter);
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OdsCode {
    type Error = OdsCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OdsCode> for String {
    fn from(value: OdsCode) -> Self {
        value.0
    }
}

impl fmt::Debug for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OdsCode({})", self.0)
    }
}

impl fmt::Display for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_and_practice_codes_parse_and_are_upper_cased() {
        assert_eq!(
            OdsCode::parse("rrv").map(|c| c.to_string()),
            Ok("RRV".to_owned())
        );
        assert_eq!(
            OdsCode::parse(" F83004 ").map(|c| c.to_string()),
            Ok("F83004".to_owned())
        );
    }

    #[test]
    fn codes_of_the_wrong_shape_are_refused() {
        assert_eq!(OdsCode::parse("R1"), Err(OdsCodeError::WrongLength));
        assert_eq!(OdsCode::parse("R1-2"), Err(OdsCodeError::BadCharacter));
        assert_eq!(
            OdsCode::parse("ABCDEFGHIJK"),
            Err(OdsCodeError::WrongLength)
        );
    }
}
