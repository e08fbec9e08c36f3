//! Logs and traces. Logs go to stderr as text or one JSON object per line, filtered by the
//! configured level unless `RUST_LOG` says otherwise; JSON lines inside a trace carry its
//! `trace_id`. Spans of Imprint's own code (requests, event publishing and consuming) are
//! OpenTelemetry spans: their W3C trace context travels in gRPC metadata and AMQP headers, and
//! they are exported over OTLP/gRPC when an endpoint is configured.

use std::fmt;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::{LogFormat, LogSettings, TracingSettings};

/// The installed tracer; [`Telemetry::shutdown`] sends the spans still buffered.
#[derive(Debug)]
pub struct Telemetry {
    /// Spans' destination; `None` when a subscriber was already installed (tests).
    provider: Option<SdkTracerProvider>,
    /// Where spans are exported, if anywhere.
    endpoint: Option<String>,
}

impl Telemetry {
    /// The OTLP endpoint spans go to, if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Exports the spans still buffered (waiting at most a few seconds), then stops exporting.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The SDK blocks while it flushes; the export itself runs on this runtime.
            let flushed = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::task::spawn_blocking(move || provider.shutdown()),
            )
            .await;
            match flushed {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "flushing traces"),
                Ok(Err(e)) => tracing::warn!(error = %e, "flushing traces"),
                Err(_) => tracing::warn!("flushing traces took over 5s; some are lost"),
            }
        }
    }
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter refused its endpoint.
    #[error("tracing.otlp_endpoint '{endpoint}': {source}")]
    Exporter {
        /// The endpoint as configured.
        endpoint: String,
        /// What the exporter said.
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// Installs the global subscriber: logs per `log`, spans per `traces` named `service` (when
/// `traces.service_name` is empty). Must run inside the tokio runtime. Safe to call more than
/// once (tests): later calls install nothing.
pub fn init(
    log: &LogSettings,
    traces: &TracingSettings,
    service: &str,
) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let endpoint = traces
        .otlp_endpoint
        .as_ref()
        .map(|e| e.trim().to_owned())
        .or_else(|| {
            std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|e| !e.trim().is_empty())
        });
    let name = traces
        .service_name
        .as_ref()
        .map_or_else(|| service.to_owned(), |n| n.trim().to_owned());
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            traces.sample_ratio,
        ))))
        .with_resource(Resource::builder().with_service_name(name).build());
    if let Some(endpoint) = &endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                source,
            })?;
        builder = builder.with_batch_exporter(OnRuntime {
            inner: exporter,
            runtime: tokio::runtime::Handle::current(),
        });
    }
    let provider = builder.build();
    // Only Imprint's own spans become OpenTelemetry spans, whatever the log level: a request,
    // an event published or consumed.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("imprint"))
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_span() && meta.target().starts_with("imprint")
        }));
    let ansi = std::io::stderr().is_terminal();
    let logs = match log.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .with_target(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .event_format(WithTraceId(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ))
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .with_filter(filter)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(logs)
        .try_init()
        .is_ok();
    // An error only means a subscriber is already installed (tests start many processes' worth
    // of services in one).
    Ok(Telemetry {
        provider: installed.then_some(provider),
        endpoint,
    })
}

/// Runs an exporter's calls on the process's tokio runtime: the SDK's batch processor exports
/// from a thread of its own, and tonic needs the runtime's reactor.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: E,
    runtime: tokio::runtime::Handle,
}

impl<E: SpanExporter> SpanExporter for OnRuntime<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let _entered = self.runtime.enter();
        Entered {
            runtime: self.runtime.clone(),
            inner: Box::pin(self.inner.export(batch)),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A future polled with the runtime entered.
struct Entered<F> {
    runtime: tokio::runtime::Handle,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _entered = self.runtime.enter();
        self.inner.as_mut().poll(cx)
    }
}

/// JSON log lines with the `trace_id` of the span they were written in.
struct WithTraceId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let Some(trace_id) = current_trace_id() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"trace_id\":\"{trace_id}\",{rest}"),
            None => writer.write_str(&line),
        }
    }
}

/// The trace the current span belongs to.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The W3C `traceparent` of the current span, to hand on to a call or an event.
pub fn traceparent() -> Option<String> {
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.traceparent
}

/// Makes `span` a child of the trace in `traceparent` (a W3C header value); one that is missing
/// or malformed starts a new trace.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let carrier = Carrier {
        traceparent: traceparent.map(str::to_owned),
    };
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Makes `span` a child of the trace context in HTTP (gRPC) `headers`.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Writes the current span's trace context into HTTP (gRPC) `headers`, replacing the caller's.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    match carrier
        .traceparent
        .and_then(|t| http::HeaderValue::from_str(&t).ok())
    {
        Some(value) => {
            headers.insert("traceparent", value);
        }
        None => {
            headers.remove("traceparent");
        }
    }
}

/// A `traceparent` on its own.
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.traceparent = Some(value);
        }
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent")
            .then_some(self.traceparent.as_deref())
            .flatten()
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Reads trace context from HTTP headers.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
