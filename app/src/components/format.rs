//! Dates and times as the NHS style guide writes them ("14 March 2027", "9:30am"), in UK
//! time. The server renders and the browser hydrates the same text, so the conversion
//! is a pure function of the instant: British Summer Time runs from 01:00 UTC on the
//! last Sunday of March to 01:00 UTC on the last Sunday of October (the rule since
//! 1996), which saves shipping a time zone database to the browser.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_of_next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    Some(last - Duration::days(i64::from(back)))
}

/// Whether British Summer Time is in force at this instant.
pub fn is_british_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let starts = last_sunday(year, 3).and_then(|d| d.and_hms_opt(1, 0, 0));
    let ends = last_sunday(year, 10).and_then(|d| d.and_hms_opt(1, 0, 0));
    match (starts, ends) {
        (Some(starts), Some(ends)) => {
            let naive = at.naive_utc();
            naive >= starts && naive < ends
        }
        _ => false,
    }
}

/// The wall-clock time in the UK.
pub fn uk_local(at: DateTime<Utc>) -> NaiveDateTime {
    let offset = if is_british_summer_time(at) { 1 } else { 0 };
    at.naive_utc() + Duration::hours(offset)
}

/// "14 March 2027".
pub fn date(at: DateTime<Utc>) -> String {
    uk_local(at).format("%-d %B %Y").to_string()
}

/// "Monday 14 March 2027".
pub fn day_and_date(at: DateTime<Utc>) -> String {
    uk_local(at).format("%A %-d %B %Y").to_string()
}

/// "9:30am", "12 noon", "3pm".
pub fn time(at: DateTime<Utc>) -> String {
    let local = uk_local(at);
    let (hour, minute) = (local.hour(), local.minute());
    if hour == 12 && minute == 0 {
        return "12 noon".to_owned();
    }
    if hour == 0 && minute == 0 {
        return "midnight".to_owned();
    }
    let suffix = if hour < 12 { "am" } else { "pm" };
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    if minute == 0 {
        format!("{hour12}{suffix}")
    } else {
        format!("{hour12}:{minute:02}{suffix}")
    }
}

/// "14 March 2027 at 9:30am".
pub fn date_and_time(at: DateTime<Utc>) -> String {
    format!("{} at {}", date(at), time(at))
}

/// The machine-readable form for `<time datetime>`.
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A date as a sender wrote it, possibly partial ("2024", "2024-04", "2024-04-12…").
pub fn partial_date(text: &str) -> String {
    let parts: Vec<&str> = text.get(..10).unwrap_or(text).split('-').collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
    match (
        parts.first().and_then(|y| y.parse::<i32>().ok()),
        number(1),
        number(2),
    ) {
        (Some(year), Some(month), Some(day)) => NaiveDate::from_ymd_opt(year, month, day)
            .map(|d| d.format("%-d %B %Y").to_string())
            .unwrap_or_else(|| text.to_owned()),
        (Some(year), Some(month), None) => NaiveDate::from_ymd_opt(year, month, 1)
            .map(|d| d.format("%B %Y").to_string())
            .unwrap_or_else(|| text.to_owned()),
        (Some(year), None, None) => year.to_string(),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn summer_time_starts_and_ends_at_one_in_the_morning_utc() {
        // 2027: BST from 28 March to 31 October.
        let before = Utc.with_ymd_and_hms(2027, 3, 28, 0, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap();
        assert!(!is_british_summer_time(before));
        assert!(is_british_summer_time(after));
        let end = Utc.with_ymd_and_hms(2027, 10, 31, 1, 0, 0).unwrap();
        assert!(!is_british_summer_time(end));
        assert!(is_british_summer_time(end - Duration::seconds(1)));
    }

    #[test]
    fn dates_and_times_read_as_the_nhs_style_guide_writes_them() {
        let at = Utc.with_ymd_and_hms(2027, 7, 14, 8, 30, 0).unwrap();
        assert_eq!(date_and_time(at), "14 July 2027 at 9:30am");
        let noon = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(time(noon), "12 noon");
        assert_eq!(day_and_date(noon), "Tuesday 1 December 2026");
        assert_eq!(partial_date("2024-04"), "April 2024");
        assert_eq!(partial_date("2024"), "2024");
        assert_eq!(partial_date("2024-04-12T10:00:00Z"), "12 April 2024");
    }
}
