//! Prometheus metrics kept in the process and written in the text exposition format at
//! `/metrics`: latency histograms, and request counts and latencies by label.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds: fine below 5 ms, where most calls are.
const BOUNDS_US: [u64; 26] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_250, 1_500, 2_000, 2_500,
    3_000, 4_000, 5_000, 7_500, 10_000, 25_000, 100_000, 1_000_000, 10_000_000,
];

/// A latency histogram with fixed buckets; cheap to observe from any thread.
#[derive(Debug)]
pub struct Histogram {
    /// Observations at or under each bound (not cumulative), then the overflow.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    /// Sum of observations, in microseconds.
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one observation of `took`.
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|b| *b < us);
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The histogram in the Prometheus text format, named `name`, with its HELP and TYPE.
    pub fn prometheus(&self, name: &str, help: &str) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        self.write_series(&mut out, name, "");
        out
    }

    /// Its `_bucket`, `_sum` and `_count` lines, with `labels` (`a="b",c="d"` or empty).
    fn write_series(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BOUNDS_US.get(i).map_or_else(
                || "+Inf".to_owned(),
                |us| format!("{}", Duration::from_micros(*us).as_secs_f64()),
            );
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = Duration::from_micros(self.sum_us.load(Ordering::Relaxed)).as_secs_f64();
        let braces = |labels: &str| {
            if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// Most label combinations one family keeps; later ones are counted under `other`, so that
/// callers inventing paths cannot grow the process without bound.
const MAX_SERIES: usize = 1_000;

/// Requests by label values: a counter `<prefix>_requests_total` and a histogram
/// `<prefix>_request_duration_seconds`, with the same labels.
#[derive(Debug)]
pub struct Requests {
    /// `imprint_rpc`, `imprint_http`.
    prefix: &'static str,
    /// What the requests are, for HELP.
    what: &'static str,
    /// Label names, in order.
    labels: &'static [&'static str],
    /// Latency per formatted label set.
    series: RwLock<HashMap<String, Arc<Histogram>>>,
}

impl Requests {
    /// A family named by `prefix` with `labels`.
    pub fn new(prefix: &'static str, what: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            prefix,
            what,
            labels,
            series: RwLock::new(HashMap::new()),
        }
    }

    /// Records a request with `values` (one per label) that took `took`.
    pub fn observe(&self, values: &[&str], took: Duration) {
        let mut key = String::new();
        for (i, (name, value)) in self.labels.iter().zip(values).enumerate() {
            if i > 0 {
                key.push(',');
            }
            let _ = write!(key, "{name}=\"{}\"", escape(value));
        }
        let found = self
            .series
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        let histogram = match found {
            Some(h) => h,
            None => {
                let mut series = self
                    .series
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if series.len() >= MAX_SERIES && !series.contains_key(&key) {
                    key = self
                        .labels
                        .iter()
                        .map(|name| format!("{name}=\"other\""))
                        .collect::<Vec<_>>()
                        .join(",");
                }
                series.entry(key).or_default().clone()
            }
        };
        histogram.observe(took);
    }

    /// Both families in the text format.
    pub fn prometheus(&self) -> String {
        let series = self
            .series
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<&String> = series.keys().collect();
        keys.sort();
        let prefix = self.prefix;
        let what = self.what;
        let mut out = format!(
            "# HELP {prefix}_requests_total {what} handled.\n# TYPE {prefix}_requests_total counter\n"
        );
        for key in &keys {
            let count = series.get(*key).map_or(0, |h| h.count());
            let _ = writeln!(out, "{prefix}_requests_total{{{key}}} {count}");
        }
        let _ = write!(
            out,
            "# HELP {prefix}_request_duration_seconds Time to handle {what}, to the end of the response.\n# TYPE {prefix}_request_duration_seconds histogram\n"
        );
        for key in keys {
            if let Some(h) = series.get(key) {
                h.write_series(&mut out, &format!("{prefix}_request_duration_seconds"), key);
            }
        }
        out
    }
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A gauge or counter line with its HELP and TYPE, for values read when scraped.
pub fn sample(out: &mut String, name: &str, kind: &str, help: &str, series: &[(&str, f64)]) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    for (labels, value) in series {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_buckets_cumulatively() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(40));
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        let text = h.prometheus("x_seconds", "test");
        for line in [
            "x_seconds_bucket{le=\"0.00005\"} 1\n",
            "x_seconds_bucket{le=\"0.0001\"} 2\n",
            "x_seconds_bucket{le=\"0.00015\"} 3\n",
            "x_seconds_bucket{le=\"10\"} 3\n",
            "x_seconds_bucket{le=\"+Inf\"} 4\n",
            "x_seconds_count 4\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn requests_are_counted_and_timed_per_label_set() {
        let r = Requests::new("t", "calls", &["method", "code"]);
        r.observe(&["/a.B/C", "OK"], Duration::from_micros(120));
        r.observe(&["/a.B/C", "OK"], Duration::from_micros(80));
        r.observe(&["/a.B/C", "NOT_FOUND"], Duration::from_millis(2));
        r.observe(&["say \"hi\"", "OK"], Duration::from_millis(2));
        let text = r.prometheus();
        for line in [
            "# TYPE t_requests_total counter\n",
            "t_requests_total{method=\"/a.B/C\",code=\"OK\"} 2\n",
            "t_requests_total{method=\"/a.B/C\",code=\"NOT_FOUND\"} 1\n",
            "t_requests_total{method=\"say \\\"hi\\\"\",code=\"OK\"} 1\n",
            "t_request_duration_seconds_bucket{method=\"/a.B/C\",code=\"OK\",le=\"0.0001\"} 1\n",
            "t_request_duration_seconds_count{method=\"/a.B/C\",code=\"OK\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn label_sets_beyond_the_bound_are_counted_as_other() {
        let r = Requests::new("t", "calls", &["path"]);
        for i in 0..MAX_SERIES + 5 {
            r.observe(&[&format!("/{i}")], Duration::from_micros(1));
        }
        let text = r.prometheus();
        assert!(
            text.contains("t_requests_total{path=\"other\"} 5\n"),
            "{text}"
        );
    }
}
