//! One time type for everything Quire records: [`Timestamp`], a UTC instant with millisecond
//! precision, and the one text it is stored and serialised as; and [`Zone`], the library's
//! time zone, in which times are shown to people (storage stays UTC).

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// The one storage format: `2026-01-31T09:05:00.120Z`.
///
/// Always three fractional digits: RFC 3339 formatting drops trailing zeros (`.12Z`), and
/// `.12Z` sorts after `.125Z` as text, which broke `<=` comparisons on stored times. Fixed
/// width, so the database can keep comparing and ordering the stored text.
const STORED: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// A moment in UTC, kept to the millisecond (what the storage format holds), so a time read
/// back equals the time written and typed order is the stored text's order.
///
/// `Display` and `Serialize` write the storage format; `FromStr` and `Deserialize` read it and
/// any RFC 3339 time (older rows, user input), converted to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z: the value of a time not yet set (a record before the store
    /// stamps it).
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// `at` in UTC, cut to the millisecond.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let millis = at.nanosecond() / 1_000_000 * 1_000_000;
        Timestamp(
            at.replace_nanosecond(millis)
                .expect("a whole millisecond is a valid nanosecond"),
        )
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    /// `minutes` later (negative: earlier).
    pub fn plus_minutes(self, minutes: i64) -> Self {
        self + Duration::minutes(minutes)
    }

    /// `minutes` from now (negative: ago).
    pub fn minutes_from_now(minutes: i64) -> Self {
        Self::now().plus_minutes(minutes)
    }

    /// The calendar year, in UTC.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// Reads the storage format or any RFC 3339 time.
    pub fn parse(text: &str) -> Result<Self, String> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| format!("not an RFC 3339 time `{text}`: {e}"))
    }

    /// To the minute, as people read it on a page: `2026-01-31 09:05` (UTC).
    pub fn to_minute(self) -> String {
        let minute = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        self.0.format(minute).expect("UTC times always format")
    }

    fn text_is(&self, text: &str) -> bool {
        self.0.format(STORED).is_ok_and(|own| own == text)
    }

    /// To the minute in `zone`, as people read it on a page: `2026-01-31 10:05 CET`.
    pub fn shown_minute(self, zone: &Zone) -> String {
        zone.format(self, "%Y-%m-%d %H:%M %Z")
    }

    /// To the second in `zone`, for tables and logs people read: `2026-01-31 10:05:00 CET`.
    pub fn shown_second(self, zone: &Zone) -> String {
        zone.format(self, "%Y-%m-%d %H:%M:%S %Z")
    }

    /// The calendar day in `zone`, in words: `31 January 2026`.
    pub fn shown_day(self, zone: &Zone) -> String {
        zone.format(self, "%-d %B %Y")
    }

    /// The calendar day in `zone` as ISO 8601 (`2026-01-31`), for metadata that people and
    /// other systems read, such as a bag's `Bagging-Date`.
    pub fn shown_iso_day(self, zone: &Zone) -> String {
        zone.format(self, "%Y-%m-%d")
    }

    /// The storage format, as text.
    pub fn stored(self) -> String {
        self.to_string()
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self::UNIX_EPOCH
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Self::from_datetime(at)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Self::from_datetime(self.0 + d)
    }
}

/// A wait (a retry delay), from this time.
impl Add<std::time::Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: std::time::Duration) -> Timestamp {
        Self::from_datetime(self.0 + d)
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Self::from_datetime(self.0 - d)
    }
}

impl Sub<std::time::Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: std::time::Duration) -> Timestamp {
        Self::from_datetime(self.0 - d)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(STORED).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// Compares the stored text: `t == "2026-01-31T09:05:00.000Z"`.
impl PartialEq<str> for Timestamp {
    fn eq(&self, text: &str) -> bool {
        self.text_is(text)
    }
}

impl PartialEq<&str> for Timestamp {
    fn eq(&self, text: &&str) -> bool {
        self.text_is(text)
    }
}

impl PartialEq<String> for Timestamp {
    fn eq(&self, text: &String) -> bool {
        self.text_is(text)
    }
}

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The library's time zone (`[institution] time_zone`, an IANA name such as
/// `America/Chicago`), in which every time shown to a person is written: the console, the
/// borrower's page, e-mails and CLI tables. Read from the system's zone database (Debian's
/// `tzdata`), so it follows daylight saving as the law changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    pub fn utc() -> Self {
        Zone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// An IANA zone by name; `UTC` needs no zone database.
    pub fn named(name: &str) -> Result<Self, String> {
        if name == "UTC" {
            return Ok(Self::utc());
        }
        jiff::tz::TimeZone::get(name)
            .map(|tz| Zone {
                name: name.to_string(),
                tz,
            })
            .map_err(|e| {
                format!("unknown time zone `{name}` (an IANA name such as \"Europe/Berlin\"): {e}")
            })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn format(&self, at: Timestamp, pattern: &str) -> String {
        let nanos = at.0.unix_timestamp_nanos();
        match jiff::Timestamp::from_nanosecond(nanos) {
            Ok(t) => t.to_zoned(self.tz.clone()).strftime(pattern).to_string(),
            // Outside jiff's range (years beyond ±9999): never a recorded time; show it stored.
            Err(_) => at.to_string(),
        }
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self::utc()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Zone::named(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_times_follow_the_zone_and_its_daylight_saving() {
        let winter: Timestamp = "2026-01-31T09:05:07.000Z".parse().unwrap();
        let summer: Timestamp = "2026-07-01T09:05:07.000Z".parse().unwrap();
        assert_eq!(winter.shown_minute(&Zone::utc()), "2026-01-31 09:05 UTC");
        let chicago = Zone::named("America/Chicago").unwrap();
        assert_eq!(winter.shown_second(&chicago), "2026-01-31 03:05:07 CST");
        assert_eq!(summer.shown_minute(&chicago), "2026-07-01 04:05 CDT");
        assert_eq!(winter.shown_day(&chicago), "31 January 2026");
        let err = Zone::named("Mars/Olympus").unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
        let z: Zone = serde_json::from_str("\"Europe/Berlin\"").unwrap();
        assert_eq!(serde_json::to_string(&z).unwrap(), "\"Europe/Berlin\"");
    }

    use super::*;

    #[test]
    fn always_three_fractional_digits() {
        let t: Timestamp = "2026-01-31T09:05:00.12Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:05:00.120Z");
        let t: Timestamp = "2026-01-31T09:05:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:05:00.000Z");
        // Cut (not rounded) to the millisecond, like the stored text.
        let t: Timestamp = "2026-01-31T09:05:00.123999Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:05:00.123Z");
    }

    #[test]
    fn stored_text_round_trips_and_orders_like_the_time() {
        let a = Timestamp::now();
        assert_eq!(a.to_string().parse::<Timestamp>().unwrap(), a);
        let earlier: Timestamp = "2026-01-31T09:05:00.12Z".parse().unwrap();
        let later: Timestamp = "2026-01-31T09:05:00.125Z".parse().unwrap();
        assert!(earlier < later);
        let (earlier_text, later_text) = (earlier.to_string(), later.to_string());
        assert!(earlier_text < later_text);
    }

    #[test]
    fn offsets_are_read_as_utc() {
        let t: Timestamp = "2026-01-31T10:05:00+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:05:00.000Z");
        assert!("2026-01-31".parse::<Timestamp>().is_err());
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn minutes_and_json() {
        let t: Timestamp = "2026-01-31T23:50:00.000Z".parse().unwrap();
        assert_eq!(t.plus_minutes(15).to_string(), "2026-02-01T00:05:00.000Z");
        assert_eq!(t.plus_minutes(15).to_minute(), "2026-02-01 00:05");
        assert_eq!(
            (t - Duration::minutes(50)).to_string(),
            "2026-01-31T23:00:00.000Z"
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-01-31T23:50:00.000Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
