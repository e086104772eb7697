//! The NHS number: ten digits whose last digit is a modulus 11 check digit
//! (NHS Data Dictionary, "NHS Number"). We never trust a sender or a token to have checked
//! it: every NHS number that enters the portal goes through [`NhsNumber::parse`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid NHS number (ten digits, correct check digit).
///
/// The field is private: the only way to get one is [`NhsNumber::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

/// Why a string is not an NHS number. The message never repeats the input, so it is safe
/// to show and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("an NHS number has 10 digits")]
    WrongLength,
    #[error("an NHS number contains only digits")]
    NotDigits,
    #[error("the NHS number's check digit is wrong")]
    BadCheckDigit,
}

impl NhsNumber {
    /// Parses an NHS number, allowing the spaces and hyphens people write it with
    /// ("999 123 4560", "999-123-4560"), and checks the modulus 11 check digit:
    /// weights 10 down to 2 on the first nine digits, remainder of the sum by 11,
    /// check digit = 11 - remainder, where 11 means 0 and 10 means no valid number.
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let mut digits = Vec::with_capacity(10);
        for c in input.trim().chars() {
            match c {
                ' ' | '-' => continue,
                '0'..='9' => digits.push(c as u8 - b'0'),
                _ => return Err(NhsNumberError::NotDigits),
            }
        }
        if digits.len() != 10 {
            return Err(NhsNumberError::WrongLength);
        }
        let sum: u32 = digits[..9]
            .iter()
            .zip((2..=10u32).rev())
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        let expected = match 11 - (sum % 11) {
            11 => 0,
            10 => return Err(NhsNumberError::BadCheckDigit),
            n => n,
        };
        if u32::from(digits[9]) != expected {
            return Err(NhsNumberError::BadCheckDigit);
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// The ten digits with no separators, as stored and as sent in FHIR identifiers.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as people read it: "999 123 4560".
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }

    /// True for the range set aside for testing (999 000 0000 to 999 999 9999), which is
    /// never issued to a real person.
    pub fn is_test_range(&self) -> bool {
        self.0.starts_with("999")
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.0
    }
}

/// Debug output masks all but the last three digits, so that an NHS number that slips
/// into a debug log line does not identify anyone.
impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NhsNumber(*******{})", &self.0[7..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_published_valid_examples() {
        for n in ["9912003888", "9434765919", "6541003238", "9000000009"] {
            assert_eq!(
                NhsNumber::parse(n).map(|n| n.as_str().to_owned()),
                Ok(n.to_owned())
            );
        }
    }

    #[test]
    fn rejects_the_published_invalid_examples() {
        assert_eq!(
            NhsNumber::parse("1234567890"),
            Err(NhsNumberError::BadCheckDigit)
        );
        assert_eq!(
            NhsNumber::parse("9434765911"),
            Err(NhsNumberError::BadCheckDigit)
        );
    }

    #[test]
    fn strips_spaces_and_hyphens_only() {
        assert_eq!(
            NhsNumber::parse(" 943 476-5919 ").map(|n| n.formatted()),
            Ok("943 476 5919".to_owned())
        );
        assert_eq!(
            NhsNumber::parse("943.476.5919"),
            Err(NhsNumberError::NotDigits)
        );
        assert_eq!(
            NhsNumber::parse("94347659"),
            Err(NhsNumberError::WrongLength)
        );
        assert_eq!(
            NhsNumber::parse("94347659190"),
            Err(NhsNumberError::WrongLength)
        );
        assert_eq!(
            NhsNumber::parse("٩٤٣٤٧٦٥٩١٩"),
            Err(NhsNumberError::NotDigits)
        );
    }

    #[test]
    fn a_remainder_of_one_has_no_valid_check_digit() {
        // 000000006: the weighted sum is 6 x 2 = 12, remainder 1, so the check digit would
        // be 10, which no single digit can be.
        for last in 0..=9 {
            let candidate = format!("000000006{last}");
            assert_eq!(
                NhsNumber::parse(&candidate),
                Err(NhsNumberError::BadCheckDigit)
            );
        }
    }

    #[test]
    fn debug_output_does_not_show_the_number() {
        let n = NhsNumber::parse("9434765919").map(|n| format!("{n:?}"));
        assert_eq!(n, Ok("NhsNumber(*******919)".to_owned()));
    }

    #[test]
    fn every_digit_string_either_parses_to_itself_or_is_rejected() {
        // A cheap exhaustive walk over one check-digit position for many prefixes: exactly
        // one final digit is valid, or none when the remainder is 1.
        for prefix in (999_000_000u32..999_000_200).chain(100_000_000..100_000_050) {
            let valid: Vec<_> = (0..=9)
                .filter(|d| NhsNumber::parse(&format!("{prefix}{d}")).is_ok())
                .collect();
            assert!(valid.len() <= 1, "prefix {prefix} has {valid:?}");
        }
    }
}
