//! Request timestamps (§4): ISO 8601 basic format and the HTTP `Date` header.

use std::time::{Duration, SystemTime};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Parses an ISO 8601 basic timestamp `YYYYMMDD'T'HHMMSS'Z'` (exactly 16 characters, UTC, a real
/// calendar date), the format of `X-Amz-Date` (§4). `None` when malformed.
pub fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 4, 2)?;
    let day = digits(b, 6, 2)?;
    let hour = digits(b, 9, 2)?;
    let minute = digits(b, 11, 2)?;
    let second = digits(b, 13, 2)?;
    civil_to_system_time(year, month, day, hour, minute, second)
}

/// Whether `value` is a `YYYYMMDD` date that exists in the calendar (the credential scope date, §2).
pub(crate) fn is_valid_date8(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 8 {
        return false;
    }
    match (digits(b, 0, 4), digits(b, 4, 2), digits(b, 6, 2)) {
        (Some(year), Some(month), Some(day)) => calendar_date(year, month, day).is_some(),
        _ => false,
    }
}

/// Parses an HTTP `Date` header in IMF-fixdate form (`Mon, 15 Jan 2024 12:00:00 GMT`, RFC 7231),
/// the fallback timestamp source for header auth (§4). The weekday name must be a valid one but
/// is not checked against the date.
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = value.as_bytes();
    // "Www, DD Mon YYYY HH:MM:SS GMT"
    if b.len() != 29 {
        return None;
    }
    let weekday = value.get(0..3)?;
    let month_name = value.get(8..11)?;
    if !WEEKDAYS.contains(&weekday)
        || value.get(3..5)? != ", "
        || b.get(7) != Some(&b' ')
        || b.get(11) != Some(&b' ')
        || b.get(16) != Some(&b' ')
        || b.get(19) != Some(&b':')
        || b.get(22) != Some(&b':')
        || value.get(25..29)? != " GMT"
    {
        return None;
    }
    let month_index = MONTHS.iter().position(|m| *m == month_name)?;
    let month = u32::try_from(month_index).ok()?.checked_add(1)?;
    let day = digits(b, 5, 2)?;
    let year = digits(b, 12, 4)?;
    let hour = digits(b, 17, 2)?;
    let minute = digits(b, 20, 2)?;
    let second = digits(b, 23, 2)?;
    civil_to_system_time(year, month, day, hour, minute, second)
}

/// Formats a time as ISO 8601 basic (`20240115T120000Z`), the form of `X-Amz-Date` and of the
/// string to sign (§4, §6). Times outside years 0000-9999 are clamped to those bounds.
pub fn format_amz_date(time: SystemTime) -> String {
    let t = to_offset_date_time(time);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Formats a time as ISO 8601 extended (`2024-01-15T12:00:00Z`), the form of S3's `<ServerTime>`
/// and `<Expires>` error elements (§4, §9).
pub(crate) fn format_iso8601(time: SystemTime) -> String {
    let t = to_offset_date_time(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn to_offset_date_time(time: SystemTime) -> OffsetDateTime {
    let seconds = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    let min = PrimitiveDateTime::new(Date::MIN, Time::MIDNIGHT).assume_utc();
    let max = PrimitiveDateTime::new(Date::MAX, Time::MIDNIGHT).assume_utc();
    let clamped = seconds.clamp(min.unix_timestamp(), max.unix_timestamp());
    OffsetDateTime::from_unix_timestamp(clamped).unwrap_or(min)
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<u32> {
    let slice = bytes.get(start..start.checked_add(len)?)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn calendar_date(year: u32, month: u32, day: u32) -> Option<Date> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

fn civil_to_system_time(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<SystemTime> {
    let date = calendar_date(year, month, day)?;
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let unix = PrimitiveDateTime::new(date, time)
        .assume_utc()
        .unix_timestamp();
    match u64::try_from(unix) {
        Ok(after) => SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(after)),
        Err(_) => SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(unix.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_and_formats_basic_timestamps() {
        let t = parse_amz_date("20240115T120000Z").unwrap();
        assert_eq!(t, at(1_705_320_000));
        assert_eq!(format_amz_date(t), "20240115T120000Z");
        assert_eq!(format_iso8601(t), "2024-01-15T12:00:00Z");
    }

    #[test]
    fn rejects_malformed_basic_timestamps() {
        for bad in [
            "",
            "20240115T120000",
            "20240115 120000Z",
            "2024-01-15T12:00:00Z",
            "20240230T120000Z",
            "20241301T120000Z",
            "20240115T250000Z",
            "20240115T126000Z",
            "20240115T120060Z",
            "2024011xT120000Z",
            "+2024115T120000Z",
            "20240115T120000z",
            "20240115T12000０Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_imf_fixdate() {
        assert_eq!(
            parse_http_date("Mon, 15 Jan 2024 12:00:00 GMT"),
            Some(at(1_705_320_000))
        );
        assert_eq!(
            parse_http_date("Fri, 24 May 2013 00:00:00 GMT"),
            parse_amz_date("20130524T000000Z")
        );
    }

    #[test]
    fn rejects_malformed_http_dates() {
        for bad in [
            "Mon, 15 Jan 2024 12:00:00 UTC",
            "Mon, 15 Foo 2024 12:00:00 GMT",
            "Xyz, 15 Jan 2024 12:00:00 GMT",
            "Mon, 31 Feb 2024 12:00:00 GMT",
            "Monday, 15-Jan-24 12:00:00 GMT",
            "Mon 15 Jan 2024 12:00:00 GMT ",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn validates_scope_dates() {
        assert!(is_valid_date8("20240229"));
        assert!(!is_valid_date8("20230229"));
        assert!(!is_valid_date8("2024011"));
        assert!(!is_valid_date8("2024O115"));
    }

    #[test]
    fn formats_times_before_the_epoch_and_far_future_without_panicking() {
        assert_eq!(
            format_amz_date(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            "19691231T235959Z"
        );
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 1000);
        assert_eq!(format_amz_date(far), "99991231T000000Z");
    }
}
