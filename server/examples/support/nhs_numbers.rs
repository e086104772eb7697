//! Valid NHS numbers for the examples' made-up patients: the test range 999 000 0000 to
//! 999 999 9999, which is never issued, with the modulus 11 check digit.

/// `count` NHS numbers in the test range (999 000 0000 to 999 999 9999) that pass
/// modulus 11, in order: a different patient for every bundle.
pub fn nhs_numbers(count: usize) -> Result<Vec<String>, String> {
    let numbers: Vec<String> = (0..1_000_000u32)
        .filter_map(|serial| {
            let nine = format!("999{serial:06}");
            check_digit(&nine).map(|check| format!("{nine}{check}"))
        })
        .take(count)
        .collect();
    if numbers.len() < count {
        return Err(format!(
            "the test range has only {} valid NHS numbers",
            numbers.len()
        ));
    }
    Ok(numbers)
}

/// The modulus 11 check digit of nine digits, or `None` when no valid number has them.
fn check_digit(nine: &str) -> Option<u32> {
    let sum: u32 = nine
        .bytes()
        .zip((2..=10u32).rev())
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}
