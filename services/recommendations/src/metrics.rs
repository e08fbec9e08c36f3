//! How long `GetRelatedPublications` takes inside the server, as a Prometheus histogram at
//! `/metrics` (`imprint_recommendations_related_seconds`): the server time that the latency
//! figures in BENCHMARKS.md are read from, from request decoded to response built.

/// The histogram: fine buckets below 5 ms, where the aims are.
pub type Latency = imprint_platform::metrics::Histogram;
