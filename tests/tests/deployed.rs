//! Imprint as the manifests deploy it: the production overlay is rendered with
//! `kubectl kustomize`, and each role runs as its own process with exactly the environment its
//! Deployment gives it (the image's `ENV`, the ConfigMap, the Secret), nothing else; only the
//! addresses change, from cluster names to this machine's test databases, broker vhost,
//! ports and an OTLP collector. The migration Job runs first, as in the cluster.
//!
//! A paper goes from creation through the gateway to the widget's JSON, and on the way:
//! - one trace (begun by the editor's `traceparent`) runs from the gateway's call through the
//!   papers service, the outbox relay and RabbitMQ into the recommendations consumer's span;
//! - the papers role's JSON log lines of that call carry the trace id;
//! - each role's `/metrics` carries each metric an operator watches for that role.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imprint_platform::auth::Bearer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::gateway::CreatePartnerKeyRequest;
use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::papers::PublishPaperRequest;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_system_tests::{
    Process, create_authors, create_paper, free_port, imprint_binary, python, repo_root,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use serde_json::Value as Json;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct Seen {
    service: String,
    name: String,
    trace_id: String,
}

/// An OTLP/gRPC trace collector that keeps what it is sent.
#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<Seen>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut seen = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    seen.push(Seen {
                        service: service.clone(),
                        name: span.name,
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The rendered production overlay, as JSON documents.
fn rendered_manifests() -> Vec<Json> {
    let root = repo_root();
    let yaml = std::process::Command::new("kubectl")
        .args(["kustomize", "deploy/k8s/overlays/production"])
        .current_dir(&root)
        .output()
        .expect("kubectl runs (scripts/test installs it)");
    assert!(
        yaml.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&yaml.stderr)
    );
    let mut convert = std::process::Command::new(python())
        .args([
            "-c",
            "import sys, json, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use std::io::Write;
        convert
            .stdin
            .take()
            .unwrap()
            .write_all(&yaml.stdout)
            .unwrap();
    }
    let out = convert.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `ENV` the image's last stage has: its own, after those of the stages it is built `FROM`.
fn image_env() -> Vec<(String, String)> {
    let dockerfile = std::fs::read_to_string(repo_root().join("deploy/Dockerfile")).unwrap();
    let joined = dockerfile.replace("\\\n", " ");
    // Each stage: what it is built from, its name, its lines.
    let stages: Vec<(&str, Option<&str>, &str)> = joined
        .split("\nFROM ")
        .skip(1)
        .map(|stage| {
            let (header, body) = stage.split_once('\n').unwrap_or((stage, ""));
            let mut words = header.split_whitespace();
            let from = words.next().unwrap();
            let name = words.nth(1);
            (from, name, body)
        })
        .collect();
    let mut chain = vec![stages.last().unwrap()];
    while let Some(parent) = stages
        .iter()
        .find(|(_, name, _)| *name == Some(chain.last().unwrap().0))
    {
        chain.push(parent);
    }
    let env: Vec<(String, String)> = chain
        .iter()
        .rev()
        .flat_map(|(_, _, body)| body.lines())
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        env.iter().any(|(k, _)| k == "IMPRINT__DATA_DIR"),
        "the image's ENV was not found in deploy/Dockerfile: {env:?}"
    );
    env
}

/// A manifest of `kind` named `name`.
fn find<'a>(docs: &'a [Json], kind: &str, name: &str) -> &'a Json {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the manifests"))
}

/// The args and environment of the first container of `workload` (a Deployment or Job), with
/// the image's ENV beneath.
fn container(docs: &[Json], kind: &str, workload: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let config = &find(docs, "ConfigMap", "imprint-config")["data"];
    let secret = &find(docs, "Secret", "imprint-secrets")["stringData"];
    let spec = &find(docs, kind, workload)["spec"]["template"]["spec"]["containers"][0];
    let mut env: BTreeMap<String, String> = image_env().into_iter().collect();
    for from in spec["envFrom"].as_array().into_iter().flatten() {
        assert_eq!(from["configMapRef"]["name"], "imprint-config");
        for (k, v) in config.as_object().unwrap() {
            env.insert(k.clone(), v.as_str().unwrap().to_owned());
        }
    }
    for var in spec["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = match var["value"].as_str() {
            Some(v) => v.to_owned(),
            None => {
                let key = &var["valueFrom"]["secretKeyRef"];
                assert_eq!(key["name"], "imprint-secrets");
                secret[key["key"].as_str().unwrap()]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        env.insert(name, value);
    }
    let args = spec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (args, env)
}

/// Where the cluster's names are on this machine.
struct Here {
    /// Database name in the manifests (`imprint_papers`) to a test database URL.
    databases: BTreeMap<String, String>,
    amqp: String,
    /// gRPC address of each role's Service name.
    grpc: BTreeMap<String, SocketAddr>,
    collector: SocketAddr,
    data_dir: String,
    /// The S3-compatible server standing in for the manifests' bucket.
    s3: String,
}

impl Here {
    /// `value` of `key` with cluster addresses replaced by this machine's.
    fn rewrite(&self, key: &str, value: &str) -> String {
        if value.starts_with("postgres://") {
            let database = value.rsplit('/').next().unwrap();
            return self.databases[database].clone();
        }
        if value.starts_with("amqp://") {
            return self.amqp.clone();
        }
        if key == "IMPRINT__DATA_DIR" {
            return self.data_dir.clone();
        }
        if let Some(rest) = value.strip_prefix("http://") {
            let host = rest.split(':').next().unwrap();
            if let Some(addr) = self.grpc.get(host) {
                return format!("http://{addr}");
            }
            if host.starts_with("otel-collector") {
                return format!("http://{}", self.collector);
            }
            panic!("{key}={value}: an address this test does not know");
        }
        value.to_owned()
    }
}

/// The environment of `workload` on this machine, with its own listen addresses.
fn environment(
    docs: &[Json],
    here: &Here,
    kind: &str,
    workload: &str,
    listen: Option<[SocketAddr; 3]>,
) -> (Vec<String>, Vec<(String, String)>) {
    let (args, manifest) = container(docs, kind, workload);
    let mut env = Vec::new();
    for (key, value) in &manifest {
        let value = match (key.as_str(), listen) {
            ("IMPRINT__SERVER__GRPC_ADDR", Some([grpc, _, _])) => grpc.to_string(),
            ("IMPRINT__SERVER__HTTP_ADDR", Some([_, http, _])) => http.to_string(),
            ("IMPRINT__SERVER__PUBLIC_ADDR", Some([_, _, public])) => public.to_string(),
            _ => here.rewrite(key, value),
        };
        env.push((key.clone(), value));
    }
    // The manifests' bucket is on AWS; here it is on loopback, over plain HTTP.
    if manifest
        .get("IMPRINT__STORAGE__BACKEND")
        .is_some_and(|b| b == "s3")
    {
        env.push(("IMPRINT__STORAGE__ENDPOINT".to_owned(), here.s3.clone()));
        env.push(("IMPRINT__STORAGE__ALLOW_HTTP".to_owned(), "true".to_owned()));
    }
    (args, env)
}

/// A file uploaded to the deployed gateway lands in the manifests' bucket: the gateway serves it
/// back from there, and the papers role (which checks what a paper references against the same
/// bucket) takes it as a cover.
async fn files_through_the_bucket(
    gateway: &Process,
    token: &str,
    papers: &mut PaperServiceClient<InterceptedService<imprint_platform::clients::Link, Bearer>>,
    paper_id: &str,
) {
    imprint_platform::tls::ensure_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://{}", gateway.public);
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x02\x00\x00\x00\x01\x08\x02\x00\x00\x00\x7b\x40\xe8\xdd\x00\x00\x00\x0dIDATx\x9cc\xf8\xcf\x00\x04\xff\x01\x07\x00\x01\xff\xe2\x23\x9eY\x00\x00\x00\x00IEND\xaeB`\x82".to_vec();
    let uploaded: Json = http
        .post(format!("{base}/editor/v1/files?name=cover.png"))
        .bearer_auth(token)
        .body(png.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = uploaded["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{uploaded}"));
    let back = http
        .get(format!("{base}/editor/v1/files/{key}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 200);
    assert_eq!(back.bytes().await.unwrap().to_vec(), png);
    let current = papers
        .get_paper(imprint_proto::papers::GetPaperRequest {
            key: Some(imprint_proto::papers::get_paper_request::Key::Id(
                paper_id.to_owned(),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let updated = papers
        .update_paper(imprint_proto::papers::UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: paper_id.to_owned(),
                version: current.version,
                cover: Some(imprint_proto::papers::CoverImage {
                    file_key: key.to_owned(),
                    alt: "A map".to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["cover".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(
        updated.cover.unwrap().width,
        2,
        "the papers role read the bucket"
    );
}

/// A `host:port` on loopback that is free now.
fn loopback() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// A metric's lines (any labels) in `body`.
fn has_metric(body: &str, name: &str) -> bool {
    body.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_roles_serve_a_paper_to_the_widget_in_one_trace_with_their_metrics() {
    let docs = rendered_manifests();
    // The collector the production overlay's tracing.otlp_endpoint points at.
    let collector = Collector::default();
    let collector_addr = loopback();
    {
        let collector = collector.clone();
        let listener = tokio::net::TcpListener::bind(collector_addr).await.unwrap();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
        });
    }
    let papers_db = imprint_testkit::PgDatabase::create().await;
    let authors_db = imprint_testkit::PgDatabase::create().await;
    let recommendations_db = imprint_testkit::PgDatabase::create().await;
    let gateway_db = imprint_testkit::PgDatabase::create().await;
    let vhost = tokio::task::spawn_blocking(imprint_testkit::RabbitVhost::create)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = &find(&docs, "ConfigMap", "imprint-config")["data"];
    let bucket = config["IMPRINT__STORAGE__BUCKET"].as_str().unwrap();
    let s3 = imprint_system_tests::S3Server::start(bucket).await;
    let roles = ["papers", "authors", "recommendations", "gateway"];
    let listen: BTreeMap<&str, [SocketAddr; 3]> = roles
        .iter()
        .map(|r| (*r, [loopback(), loopback(), loopback()]))
        .collect();
    let here = Here {
        databases: [
            ("imprint_papers", &papers_db.url),
            ("imprint_authors", &authors_db.url),
            ("imprint_recommendations", &recommendations_db.url),
            ("imprint_gateway", &gateway_db.url),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect(),
        amqp: vhost.url.clone(),
        grpc: roles
            .iter()
            .map(|r| ((*r).to_owned(), listen[r][0]))
            .collect(),
        collector: collector_addr,
        data_dir: dir.path().to_str().unwrap().to_owned(),
        s3: s3.endpoint(),
    };

    // The migration Job, then the roles (which do not migrate: the ConfigMap says so).
    let (args, env) = environment(&docs, &here, "Job", "imprint-migrate", None);
    assert!(
        env.iter()
            .any(|(k, v)| k == "IMPRINT__DATABASE__MIGRATE_ON_START" && v == "false"),
        "the roles leave migrations to the Job"
    );
    let migrated = tokio::process::Command::new(imprint_binary())
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    assert!(
        migrated.status.success(),
        "imprint-migrate: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let mut processes = BTreeMap::new();
    for role in roles {
        let (args, env) = environment(
            &docs,
            &here,
            "Deployment",
            &format!("imprint-{role}"),
            Some(listen[role]),
        );
        assert_eq!(args, ["serve", "--role", role]);
        let [grpc, http, public] = listen[role];
        processes.insert(
            role,
            Process::serve_exactly(&args, &env, grpc, http, public).await,
        );
    }
    let gateway = &processes["gateway"];

    // An editor's front end with tracing on: its calls carry a sampled traceparent, and the
    // token is the operator token of the manifests' Secret.
    let secret = &find(&docs, "Secret", "imprint-secrets")["stringData"];
    let token = secret["OPERATOR_TOKEN"].as_str().unwrap();
    let trace_id = format!("{:032x}", uuid_like());
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let channel = tonic::transport::Endpoint::from_shared(gateway.url())
        .unwrap()
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let editor = InterceptedService::new(channel.into(), Bearer::new(Some(token)).unwrap());
    let mut authors = AuthorServiceClient::new(editor.clone());
    let mut papers = PaperServiceClient::new(editor.clone());
    let author = create_authors(&mut authors, 1).await.remove(0);
    let mut ids = Vec::new();
    for title in [
        "Countering Violent Extremism",
        "Militant Recruitment Online",
    ] {
        let paper = create_paper(&mut papers, title, &author).await;
        ids.push((paper.id, paper.slug));
    }
    // The second paper is published within the editor's trace.
    for (i, (id, _)) in ids.iter().enumerate() {
        let mut request = tonic::Request::new(PublishPaperRequest {
            id: id.clone(),
            ..PublishPaperRequest::default()
        });
        if i == 1 {
            request.metadata_mut().insert(
                "traceparent",
                MetadataValue::try_from(traceparent.as_str()).unwrap(),
            );
        }
        papers.publish_paper(request).await.unwrap();
    }
    let key = PartnerKeyServiceClient::new(editor.clone())
        .create_partner_key(CreatePartnerKeyRequest {
            partner: "partner-site".to_owned(),
            allowed_origins: vec!["https://partner.example.org".to_owned()],
            requests_per_minute: 600,
        })
        .await
        .unwrap()
        .into_inner()
        .key;
    files_through_the_bucket(gateway, token, &mut papers, &ids[0].0).await;

    // The widget's request, as the partner's page makes it.
    let (first_id, first_slug) = &ids[0];
    let second_id = &ids[1].0;
    let widget_path = format!("/v1/papers/{first_slug}/related?limit=5&key={key}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let related = loop {
        let response = imprint_testkit::get(
            gateway.public,
            &widget_path,
            &[("origin", "https://partner.example.org")],
        )
        .await
        .unwrap();
        if response.status == 200 {
            let related = response.json();
            if related["related"]
                .as_array()
                .is_some_and(|r| r.iter().any(|p| p["id"] == second_id.as_str()))
            {
                assert_eq!(
                    response.header("access-control-allow-origin"),
                    Some("https://partner.example.org")
                );
                break related;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the widget's JSON never listed the second paper: {} {}",
            response.status,
            response.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(related["related"][0]["id"], first_id.as_str());
    assert_eq!(
        related["related"][0]["title"],
        "Militant Recruitment Online"
    );

    // One trace: the gateway's call, the papers service, the relay's publish, and the
    // recommendations consumer's handling of paper.published.
    // The batch exporters send every few seconds.
    let wanted = [
        (
            "imprint-gateway",
            "imprint.papers.v1.PaperService/PublishPaper",
        ),
        (
            "imprint-papers",
            "imprint.papers.v1.PaperService/PublishPaper",
        ),
        ("imprint-papers", "paper.published publish"),
        ("imprint-recommendations", "paper.published process"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let in_trace = collector
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect::<Vec<_>>();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(service, name)| {
                !in_trace
                    .iter()
                    .any(|s| s.service == *service && s.name == *name)
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans {missing:?} never reached the collector; of the trace it has {in_trace:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The papers role's JSON log lines of that call carry the trace id.
    let logs = processes["papers"].logs().await;
    let line = logs
        .lines()
        .find(|l| l.contains(&format!("\"trace_id\":\"{trace_id}\"")))
        .unwrap_or_else(|| panic!("no log line of trace {trace_id} in:\n{logs}"));
    let parsed: Json = serde_json::from_str(line).unwrap();
    assert_eq!(parsed["trace_id"], trace_id.as_str());

    // Each role's metrics, as Prometheus scrapes them.
    let common = [
        "imprint_rpc_requests_total",
        "imprint_rpc_request_duration_seconds_bucket",
        "imprint_db_pool_connections_in_use",
        "imprint_db_pool_connections_idle",
        "imprint_db_pool_connections_max",
        "imprint_amqp_connections_up",
    ];
    let consumer = [
        "imprint_events_delivered_total",
        "imprint_events_redelivered_total",
        "imprint_events_dead_lettered_total",
    ];
    let producer = [
        "imprint_outbox_backlog",
        "imprint_outbox_oldest_age_seconds",
        "imprint_events_published_total",
    ];
    let expected: BTreeMap<&str, Vec<&str>> = [
        (
            "papers",
            [&common[..], &consumer[..], &producer[..]].concat(),
        ),
        (
            "authors",
            [&common[..], &consumer[..], &producer[..]].concat(),
        ),
        (
            "recommendations",
            [
                &common[..],
                &consumer[..],
                &["imprint_recommendations_related_seconds_bucket"][..],
            ]
            .concat(),
        ),
        (
            "gateway",
            [
                &common[..],
                &[
                    "imprint_http_requests_total",
                    "imprint_http_request_duration_seconds_bucket",
                    "imprint_gateway_cache_hit_ratio",
                    "imprint_gateway_cache_hits_total",
                    "imprint_gateway_cache_misses_total",
                ][..],
            ]
            .concat(),
        ),
    ]
    .into_iter()
    .collect();
    for (role, names) in &expected {
        let (status, body) = imprint_testkit::http_get(processes[role].http, "/metrics")
            .await
            .unwrap();
        assert_eq!(status, 200);
        for name in names {
            assert!(has_metric(&body, name), "{role}: no {name} in\n{body}");
        }
    }
    // And they count what happened: the widget's request by its route, the publish calls by
    // method and code, the consumer's deliveries.
    let (_, gateway_metrics) = imprint_testkit::http_get(gateway.http, "/metrics")
        .await
        .unwrap();
    assert!(
        gateway_metrics.contains(
            "imprint_http_requests_total{route=\"/v1/papers/{slug}/related\",method=\"GET\",status=\"200\"}"
        ),
        "{gateway_metrics}"
    );
    assert!(
        gateway_metrics.contains(
            "imprint_rpc_requests_total{service=\"imprint.papers.v1.PaperService\",method=\"PublishPaper\",code=\"OK\"} 2"
        ),
        "{gateway_metrics}"
    );
    let delivered = processes["recommendations"]
        .metric("imprint_events_delivered_total")
        .await;
    assert!(delivered >= 3, "recommendations saw {delivered} deliveries");
}

/// 128 random-enough bits for a trace id, without another dependency.
fn uuid_like() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos << 32) ^ u128::from(std::process::id()) ^ 0x5bd1_e995_0000_0000_0000_0000_0000_0000
}
