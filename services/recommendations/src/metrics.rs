//! How long `GetRelatedPublications` takes inside the server, as a Prometheus histogram at
//! `/metrics` (`imprint_recommendations_related_seconds`): the server time that the latency
//! figures in BENCHMARKS.md are read from, from request decoded to response built.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds: fine below 5 ms, where the aims are.
const BOUNDS_US: [u64; 26] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_250, 1_500, 2_000, 2_500,
    3_000, 4_000, 5_000, 7_500, 10_000, 25_000, 100_000, 1_000_000, 10_000_000,
];

/// A latency histogram with fixed buckets; cheap to observe from any thread.
#[derive(Debug)]
pub struct Latency {
    /// Observations at or under each bound (not cumulative), then the overflow.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    /// Sum of observations, in microseconds.
    sum_us: AtomicU64,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Latency {
    /// Records one call that took `took`.
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|b| *b < us);
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The histogram in the Prometheus text format, named `name`.
    pub fn prometheus(&self, name: &str, help: &str) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BOUNDS_US.get(i).map_or_else(
                || "+Inf".to_owned(),
                |us| format!("{}", Duration::from_micros(*us).as_secs_f64()),
            );
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = Duration::from_micros(self.sum_us.load(Ordering::Relaxed)).as_secs_f64();
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_buckets_cumulatively() {
        let h = Latency::default();
        h.observe(Duration::from_micros(40));
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        let text = h.prometheus("x_seconds", "test");
        assert!(
            text.contains("x_seconds_bucket{le=\"0.00005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{le=\"0.0001\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{le=\"0.00015\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("x_seconds_bucket{le=\"10\"} 3\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("x_seconds_count 4\n"), "{text}");
    }
}
