//! Timestamps. Stored and compared at microsecond precision, which both PostgreSQL and the
//! protobuf `Timestamp` keep exactly, so a value read back equals the value written.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The current time, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `t` truncated to microseconds.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// Earliest publication date accepted: older dates are almost surely typing errors.
pub fn earliest_publish_time() -> DateTime<Utc> {
    DateTime::from_timestamp(-2_208_988_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC) // 1900-01-01
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_no_nanoseconds() {
        assert_eq!(now().timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(
            earliest_publish_time().to_rfc3339(),
            "1900-01-01T00:00:00+00:00"
        );
    }
}
