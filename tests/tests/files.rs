//! Files end to end: `imprint serve` as a process, on both databases and both stores (the
//! filesystem, and a real S3-compatible server: moto, from `tests/contract/s3_server.py`).
//! Editors upload whole files and resumable ones (tus 1.0, and the tus project's own Python
//! client); identical bytes are stored once; downloads answer ranges and ETags; every bad
//! upload is a clear 4xx naming the reason, with nothing stored; a server killed in the middle
//! of a 50 MB upload leaves no file, and the resumed upload makes the source's exact bytes.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use imprint_system_tests::{Process, python, repo_root};
use sha2::{Digest, Sha256};

const EDITOR: &str = "files-tests-editor-token-0123";
const VIEWER: &str = "files-tests-viewer-token-0123";
const OTHER_EDITOR: &str = "files-tests-other-editor-0123";

/// Where the files go.
enum Store {
    Filesystem,
    S3 {
        _server: tokio::process::Child,
        port: u16,
    },
}

impl Store {
    async fn s3() -> Self {
        let server = imprint_system_tests::S3Server::start("imprint-files").await;
        Self::S3 {
            port: server.port,
            _server: server.child,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("IMPRINT__AUTH__TOKENS__EDITOR__TOKEN", EDITOR.to_owned()),
            ("IMPRINT__AUTH__TOKENS__EDITOR__ROLE", "editor".to_owned()),
            (
                "IMPRINT__AUTH__TOKENS__OTHER__TOKEN",
                OTHER_EDITOR.to_owned(),
            ),
            ("IMPRINT__AUTH__TOKENS__OTHER__ROLE", "editor".to_owned()),
            ("IMPRINT__AUTH__TOKENS__VIEWER__TOKEN", VIEWER.to_owned()),
            ("IMPRINT__AUTH__TOKENS__VIEWER__ROLE", "viewer".to_owned()),
            ("IMPRINT__STORAGE__MAX_UPLOAD_MB", "60".to_owned()),
        ];
        if let Self::S3 { port, .. } = self {
            env.extend([
                ("IMPRINT__STORAGE__BACKEND", "s3".to_owned()),
                ("IMPRINT__STORAGE__BUCKET", "imprint-files".to_owned()),
                (
                    "IMPRINT__STORAGE__ENDPOINT",
                    format!("http://127.0.0.1:{port}"),
                ),
                ("IMPRINT__STORAGE__ALLOW_HTTP", "true".to_owned()),
                ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ]);
        }
        env
    }
}

fn client() -> reqwest::Client {
    imprint_platform::tls::ensure_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn pdf(n: usize, seed: u8) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.7\n% seed {seed}\n").into_bytes();
    let mut x = u32::from(seed) + 1;
    bytes.extend((0..n).map(|_| {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (x >> 24) as u8
    }));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest_header(bytes: &[u8]) -> String {
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Edge {
    base: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
}

impl Edge {
    fn new(server: &Process) -> Self {
        Self {
            base: format!("http://{}", server.public),
            addr: server.public,
            http: client(),
        }
    }

    async fn upload(
        &self,
        token: &str,
        name: &str,
        body: Vec<u8>,
        digest: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/editor/v1/files", self.base))
            .query(&[("name", name)])
            .bearer_auth(token)
            .body(body);
        if let Some(digest) = digest {
            request = request.header("content-digest", digest);
        }
        request.send().await.unwrap()
    }

    /// The public JSON at `url`.
    async fn json(&self, url: &str) -> serde_json::Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn download(&self, key: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/editor/v1/files/{key}", self.base))
            .query(&[("name", "Report – été.pdf")])
            .bearer_auth(VIEWER);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.unwrap()
    }

    async fn tus_create(
        &self,
        token: &str,
        length: usize,
        name: &str,
        sha: Option<&str>,
    ) -> reqwest::Response {
        let mut meta = format!("filename {}", b64(name));
        if let Some(sha) = sha {
            meta.push_str(&format!(",sha256 {}", b64(sha)));
        }
        self.http
            .post(format!("{}/editor/v1/uploads", self.base))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", meta)
            .send()
            .await
            .unwrap()
    }

    async fn tus_patch(
        &self,
        location: &str,
        offset: usize,
        body: reqwest::Body,
    ) -> reqwest::Response {
        self.http
            .patch(format!("{}{location}", self.base))
            .bearer_auth(EDITOR)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn tus_head(&self, location: &str, token: &str) -> reqwest::Response {
        self.http
            .head(format!("{}{location}", self.base))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }
}

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Whole uploads, dedupe, and downloads with ranges and ETags.
async fn whole_files_and_downloads(edge: &Edge) {
    let bytes = pdf(300_000, 1);
    let response = edge
        .upload(
            EDITOR,
            "report.pdf",
            bytes.clone(),
            Some(&digest_header(&bytes)),
        )
        .await;
    assert_eq!(response.status(), 201);
    let file: serde_json::Value = response.json().await.unwrap();
    let key = format!("sha256:{}", sha256(&bytes));
    assert_eq!(file["key"], key);
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["media_type"], "application/pdf");
    assert_eq!(file["existed"], false);
    let again: serde_json::Value = edge
        .upload(EDITOR, "copy.pdf", bytes.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["key"].as_str(), again["existed"].as_bool()),
        (Some(key.as_str()), Some(true))
    );

    let whole = edge.download(&key, &[]).await;
    assert_eq!(whole.status(), 200);
    let etag = header(&whole, "etag");
    assert_eq!(etag, format!("\"{}\"", sha256(&bytes)));
    assert_eq!(header(&whole, "content-type"), "application/pdf");
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    assert!(
        header(&whole, "content-disposition")
            .contains("filename*=UTF-8''Report%20%E2%80%93%20%C3%A9t%C3%A9.pdf")
    );
    assert_eq!(whole.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(
        edge.download(&key, &[("if-none-match", &etag)])
            .await
            .status(),
        304
    );
    let part = edge.download(&key, &[("range", "bytes=100-199")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        bytes[100..200].to_vec()
    );
    let tail = edge.download(&key, &[("range", "bytes=-10")]).await;
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        bytes[bytes.len() - 10..].to_vec()
    );
    let stale = edge
        .download(&key, &[("range", "bytes=0-9"), ("if-range", "\"other\"")])
        .await;
    assert_eq!(
        stale.status(),
        200,
        "If-Range of another version: the whole file"
    );
    let past = edge
        .download(&key, &[("range", &format!("bytes={}-", bytes.len()))])
        .await;
    assert_eq!(past.status(), 416);
    assert_eq!(
        header(&past, "content-range"),
        format!("bytes */{}", bytes.len())
    );
    let missing = edge
        .download(&format!("sha256:{}", sha256(b"never uploaded")), &[])
        .await;
    assert_eq!(error_of(missing).await.0, 404);
}

/// Bad uploads: each a 4xx naming its reason.
async fn refusals(edge: &Edge) {
    let pdf_bytes = pdf(2000, 2);
    let zip = b"PK\x03\x04\x14\0\0\0\x08\0\x21\0zip bomb pretending".to_vec();
    let mut huge_png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    huge_png.extend_from_slice(&60_000u32.to_be_bytes());
    huge_png.extend_from_slice(&60_000u32.to_be_bytes());
    huge_png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    // (name, body, Content-Digest, status, code, what the message says)
    type Case<'a> = (&'a str, Vec<u8>, Option<String>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("empty.pdf", Vec::new(), None, 400, "empty_file", "empty"),
        (
            "report.pdf",
            pdf_bytes.clone(),
            Some(digest_header(b"other")),
            422,
            "checksum_mismatch",
            "SHA-256",
        ),
        (
            "report.pdf",
            b"<html>not a pdf</html>".to_vec(),
            None,
            415,
            "unsupported_type",
            "named as a PDF but its bytes are text/html",
        ),
        (
            "report.pdf",
            b"just words, not a pdf".to_vec(),
            None,
            415,
            "type_mismatch",
            "named as a PDF but its bytes are plain text",
        ),
        (
            "cover.png",
            zip.clone(),
            None,
            415,
            "type_mismatch",
            "named as a PNG image but its bytes are a zip archive",
        ),
        (
            "cover.png",
            huge_png,
            None,
            422,
            "bad_image",
            "60000 × 60000",
        ),
        (
            "program.exe",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec(),
            None,
            415,
            "unsupported_type",
            "Imprint stores",
        ),
        (
            "../../etc/passwd.pdf",
            pdf_bytes.clone(),
            None,
            400,
            "bad_parameter",
            "path separator",
        ),
        (
            "bad\u{7}name.pdf",
            pdf_bytes.clone(),
            None,
            400,
            "bad_parameter",
            "control characters",
        ),
    ];
    for (name, body, digest, status, code, needle) in cases {
        let got = error_of(edge.upload(EDITOR, name, body, digest.as_deref()).await).await;
        assert_eq!((got.0, got.1.as_str()), (status, code), "{name}: {got:?}");
        assert!(
            got.2.contains(needle),
            "{name}: {} should say {needle}",
            got.2
        );
    }
    // Over the limit (60 MB here): refused from Content-Length before the body is read.
    let head = format!(
        "POST /editor/v1/files?name=big.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {EDITOR}\r\nContent-Length: 61000000\r\nConnection: close\r\n\r\n%PDF-1.7\n"
    );
    let raw = imprint_testkit::http_raw(edge.addr, head.as_bytes())
        .await
        .unwrap();
    let big = imprint_testkit::parse_response(&raw);
    assert_eq!(big.status, 413, "refused before the body: {}", big.body);
    assert_eq!(big.json()["error"]["code"], "too_large");
    // And a chunked body that grows past it, cut off as it passes.
    let stream = futures::stream::iter((0..70).map(|i| {
        Ok::<_, std::io::Error>(if i == 0 {
            pdf(1_000_000, 3)
        } else {
            vec![7u8; 1_000_000]
        })
    }));
    let grown = edge
        .http
        .post(format!("{}/editor/v1/files?name=grown.pdf", edge.base))
        .bearer_auth(EDITOR)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(grown).await,
        (
            413,
            "too_large".to_owned(),
            "the file is larger than the limit of 60000000 bytes".to_owned()
        )
    );
    // Who may: no token, a viewer uploading.
    let anonymous = edge
        .http
        .post(format!("{}/editor/v1/files?name=a.pdf", edge.base))
        .body(pdf_bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(anonymous).await.0, 401);
    let viewer = error_of(edge.upload(VIEWER, "a.pdf", pdf_bytes.clone(), None).await).await;
    assert_eq!(
        (viewer.0, viewer.1.as_str()),
        (403, "permission_denied"),
        "{viewer:?}"
    );
    assert!(viewer.2.contains("editor role"), "{viewer:?}");
}

/// tus: create, parts, offsets, termination, and what goes wrong.
async fn resumable(edge: &Edge) {
    let bytes = pdf(3_000_000, 4);
    let created = edge
        .tus_create(EDITOR, bytes.len(), "data.pdf", Some(&sha256(&bytes)))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "tus-resumable"), "1.0.0");
    assert!(!header(&created, "upload-expires").is_empty());
    let location = header(&created, "location");
    assert!(location.starts_with("/editor/v1/uploads/"), "{location}");
    let first = edge
        .tus_patch(&location, 0, bytes[..1_000_000].to_vec().into())
        .await;
    assert_eq!(first.status(), 204);
    assert_eq!(header(&first, "upload-offset"), "1000000");
    let head = edge.tus_head(&location, EDITOR).await;
    assert_eq!(
        (head.status().as_u16(), header(&head, "upload-offset")),
        (200, "1000000".to_owned())
    );
    assert_eq!(header(&head, "cache-control"), "no-store");
    // Another editor does not see it; a part at the wrong offset is refused.
    assert_eq!(edge.tus_head(&location, OTHER_EDITOR).await.status(), 404);
    let wrong = edge
        .tus_patch(&location, 5, bytes[5..10].to_vec().into())
        .await;
    assert_eq!(error_of(wrong).await.1, "offset_mismatch");
    // More bytes than the upload declared: refused, and nothing of the part kept.
    let mut over = bytes[1_000_000..].to_vec();
    over.extend_from_slice(b"extra");
    let refused = edge.tus_patch(&location, 1_000_000, over.into()).await;
    assert_eq!(error_of(refused).await.1, "length_mismatch");
    let head = edge.tus_head(&location, EDITOR).await;
    assert_eq!(header(&head, "upload-offset"), "1000000");
    // The last part through POST with X-HTTP-Method-Override, as tus clients behind strict
    // proxies send it.
    let last = edge
        .http
        .post(format!("{}{location}", edge.base))
        .bearer_auth(EDITOR)
        .header("x-http-method-override", "PATCH")
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "1000000")
        .body(bytes[1_000_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), 204);
    let key = format!("sha256:{}", sha256(&bytes));
    assert_eq!(header(&last, "imprint-file-key"), key);
    let status: serde_json::Value = edge
        .http
        .get(format!("{}{location}", edge.base))
        .bearer_auth(EDITOR)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["file_key"], key);
    assert_eq!(
        edge.download(&key, &[])
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        bytes
    );

    // No version, a wrong content type, a deferred length: refused as tus says.
    let old = edge
        .http
        .post(format!("{}/editor/v1/uploads", edge.base))
        .bearer_auth(EDITOR)
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (old.status().as_u16(), header(&old, "tus-version")),
        (412, "1.0.0".to_owned())
    );
    let deferred = edge
        .http
        .post(format!("{}/editor/v1/uploads", edge.base))
        .bearer_auth(EDITOR)
        .header("tus-resumable", "1.0.0")
        .header("upload-defer-length", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(deferred).await.0, 400);
    let options = edge
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/editor/v1/uploads", edge.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header(&options, "tus-version"), "1.0.0");
    assert_eq!(header(&options, "tus-max-size"), "60000000");
    assert!(header(&options, "tus-extension").contains("termination"));
    let too_big = edge.tus_create(EDITOR, 61_000_000, "big.pdf", None).await;
    assert_eq!(error_of(too_big).await.1, "too_large");
    // A whole upload that is not what its name says is refused at its end; the upload stays
    // where it was (its last part not kept), for the client to terminate or expire.
    let fake = b"this is not a pdf at all".to_vec();
    let location = header(
        &edge.tus_create(EDITOR, fake.len(), "fake.pdf", None).await,
        "location",
    );
    let refused = edge.tus_patch(&location, 0, fake.into()).await;
    assert_eq!(error_of(refused).await.1, "type_mismatch");
    let after = edge.tus_head(&location, EDITOR).await;
    assert_eq!(
        (after.status().as_u16(), header(&after, "upload-offset")),
        (200, "0".to_owned())
    );
    assert!(
        header(&after, "imprint-file-key").is_empty(),
        "no file was made"
    );
    // Termination.
    let location = header(
        &edge.tus_create(EDITOR, 100, "gone.pdf", None).await,
        "location",
    );
    let deleted = edge
        .http
        .delete(format!("{}{location}", edge.base))
        .bearer_auth(EDITOR)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(edge.tus_head(&location, EDITOR).await.status(), 404);
}

/// The tus project's own Python client uploads in parts.
async fn tus_client(edge: &Edge) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pdf(12_000_000, 5);
    let path = dir.path().join("source.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let out = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/contract/tus_upload.py"))
        .args(["--endpoint", &format!("{}/editor/v1/uploads", edge.base)])
        .args([
            "--token",
            EDITOR,
            "--name",
            "Annual report.pdf",
            "--chunk",
            "5000000",
        ])
        .arg("--file")
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "tuspy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let status: serde_json::Value = edge
        .http
        .get(&url)
        .bearer_auth(EDITOR)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["file_key"],
        format!("sha256:{}", sha256(&bytes)),
        "{status}"
    );
    assert_eq!(status["offset"], bytes.len());
}

/// 100 uploads at once, a tenth of them bad: each answered, the process alive.
async fn concurrent(edge: &Edge) {
    let uploads = (0..100u8).map(|i| async move {
        if i % 10 == 0 {
            let got = error_of(
                edge.upload(EDITOR, "x.pdf", b"GIF89a not a pdf".to_vec(), None)
                    .await,
            )
            .await;
            assert_eq!(got.0, 415);
            None
        } else {
            let bytes = pdf(50_000, i);
            let response = edge
                .upload(
                    EDITOR,
                    &format!("r{i}.pdf"),
                    bytes.clone(),
                    Some(&digest_header(&bytes)),
                )
                .await;
            assert_eq!(response.status(), 201);
            Some(sha256(&bytes))
        }
    });
    let stored: Vec<String> = futures::stream::iter(uploads)
        .buffer_unordered(100)
        .filter_map(|k| async { k })
        .collect()
        .await;
    assert_eq!(stored.len(), 90);
    assert_eq!(
        edge.download(&format!("sha256:{}", stored[0]), &[])
            .await
            .status(),
        200
    );
}

/// A draft titled `title` by a new author, and the papers client it was made with.
async fn draft(
    server: &Process,
    title: &str,
) -> (
    imprint_proto::papers::paper_service_client::PaperServiceClient<
        imprint_platform::clients::Peer,
    >,
    imprint_proto::papers::Paper,
) {
    let mut authors = imprint_proto::authors::author_service_client::AuthorServiceClient::new(
        server.channel().await,
    );
    let author = imprint_system_tests::create_authors(&mut authors, 1)
        .await
        .remove(0);
    let mut papers = imprint_proto::papers::paper_service_client::PaperServiceClient::new(
        server.channel().await,
    );
    let draft = imprint_system_tests::create_paper(&mut papers, title, &author).await;
    (papers, draft)
}

/// A 2 × 1 PNG, whole and valid.
const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00\x01\x08\x02\x00\x00\x00\x7b\x40\xe8\xdd\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\x00\x04\xff\x01\x07\x00\x01\xff\xe2\x23\x9e\x59\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// A paper's downloads and cover through the papers contract and the public API: refused by
/// field when they name what is not stored or not fit, not served while the paper is a draft,
/// then listed with size and type, in JSON-LD, as citation_pdf_url, and downloaded by range.
async fn attachments(server: &Process, edge: &Edge) -> String {
    use imprint_proto::papers::{
        Attachment, AttachmentKind, CoverImage, PublishPaperRequest, UpdatePaperRequest,
    };
    let report = pdf(400_000, 20);
    let report_key = format!("sha256:{}", sha256(&report));
    assert_eq!(
        edge.upload(EDITOR, "report.pdf", report.clone(), None)
            .await
            .status(),
        201
    );
    assert_eq!(
        edge.upload(EDITOR, "cover.png", PNG.to_vec(), None)
            .await
            .status(),
        201
    );
    let data = b"country,attacks\nPakistan,12\n".to_vec();
    assert_eq!(
        edge.upload(EDITOR, "attacks.csv", data.clone(), None)
            .await
            .status(),
        201
    );
    let (mut papers, draft) = draft(server, "Violent extremism in Pakistan").await;
    let attachment = |key: &str, kind: AttachmentKind, name: &str, language: &str| Attachment {
        file_key: key.to_owned(),
        kind: kind.into(),
        name: name.to_owned(),
        language: language.to_owned(),
        ..Attachment::default()
    };
    let update = |attachments: Vec<Attachment>, cover: Option<CoverImage>, version: i64| {
        UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: draft.id.clone(),
                version,
                attachments,
                cover,
                ..imprint_proto::papers::Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["attachments".to_owned(), "cover".to_owned()],
            }),
        }
    };
    let png_key = format!("sha256:{}", sha256(PNG));
    let csv_key = format!("sha256:{}", sha256(&data));
    let missing = format!("sha256:{}", sha256(b"never uploaded"));
    let refused = papers
        .update_paper(update(
            vec![
                attachment(&missing, AttachmentKind::Report, "report.pdf", ""),
                attachment(&png_key, AttachmentKind::Summary, "summary.png", ""),
                attachment(&report_key, AttachmentKind::Translation, "rapport.pdf", ""),
                attachment(&csv_key, AttachmentKind::Data, "attacks.pdf", ""),
            ],
            Some(CoverImage {
                file_key: report_key.clone(),
                alt: String::new(),
                ..CoverImage::default()
            }),
            draft.version,
        ))
        .await
        .expect_err("refused");
    let violations = imprint_proto::status::field_violations(&refused);
    let fields: Vec<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
    for expected in [
        "paper.attachments[0].file_key",
        "paper.attachments[1].file_key",
        "paper.attachments[2].language",
        "paper.attachments[3].name",
        "paper.cover.alt",
        "paper.cover.file_key",
    ] {
        assert!(fields.contains(&expected), "{expected} in {violations:?}");
    }
    let updated = papers
        .update_paper(update(
            vec![
                attachment(
                    &report_key,
                    AttachmentKind::Report,
                    "Pakistan report.pdf",
                    "",
                ),
                attachment(&csv_key, AttachmentKind::Data, "attacks.csv", ""),
            ],
            Some(CoverImage {
                file_key: png_key.clone(),
                alt: "A street in Peshawar".to_owned(),
                ..CoverImage::default()
            }),
            draft.version,
        ))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(updated.attachments[0].size_bytes, report.len() as i64);
    assert_eq!(updated.attachments[1].media_type, "text/csv; charset=utf-8");
    assert_eq!(
        updated.cover.as_ref().map(|c| (c.width, c.height)),
        Some((2, 1))
    );
    let slug = updated.slug.clone();
    let hex = sha256(&report);
    let url = format!(
        "{}/v1/papers/{slug}/files/{hex}/Pakistan%20report.pdf",
        edge.base
    );
    // A draft's files are not public.
    assert_eq!(edge.http.get(&url).send().await.unwrap().status(), 404);
    papers
        .publish_paper(PublishPaperRequest {
            id: draft.id.clone(),
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap();
    let paper = edge.json(&format!("{}/v1/papers/{slug}", edge.base)).await;
    let downloads = paper["downloads"].as_array().unwrap();
    assert_eq!(downloads.len(), 2, "{paper}");
    assert_eq!(downloads[0]["url"], url);
    assert_eq!(downloads[0]["label"], "Download the report");
    assert_eq!(downloads[0]["size"], report.len());
    assert_eq!(downloads[1]["kind"], "data");
    assert_eq!(paper["citation_pdf_url"], url);
    assert_eq!(paper["cover"]["alt"], "A street in Peshawar");
    let page = edge.json(&format!("{}/v1/pages/{slug}", edge.base)).await;
    let encoding = &page["json_ld"]["encoding"];
    assert_eq!(encoding[0]["contentUrl"], url, "{page}");
    assert_eq!(encoding[0]["encodingFormat"], "application/pdf");
    assert_eq!(page["json_ld"]["image"]["width"], 2);
    let got = edge.http.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(header(&got, "cache-control"), "public, max-age=3600");
    assert!(
        header(&got, "content-disposition").starts_with("inline; filename=\"Pakistan_report.pdf\"")
    );
    let etag = header(&got, "etag");
    assert_eq!(got.bytes().await.unwrap().to_vec(), report);
    let part = edge
        .http
        .get(&url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        report[1000..2000].to_vec()
    );
    assert_eq!(
        edge.http
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap()
            .status(),
        304
    );
    let cover = edge
        .http
        .get(paper["cover"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (cover.status().as_u16(), header(&cover, "content-type")),
        (200, "image/png".to_owned())
    );
    // Downloads counted: the whole file and a load from its first byte, not a later range, a
    // revalidation nor a HEAD.
    let first = edge
        .http
        .get(&url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 206);
    assert_eq!(edge.http.head(&url).send().await.unwrap().status(), 200);
    let mut stats =
        imprint_proto::gateway::download_stats_service_client::DownloadStatsServiceClient::new(
            server.channel().await,
        );
    let counted = stats
        .get_download_stats(imprint_proto::gateway::GetDownloadStatsRequest {
            paper_id: draft.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counted.total, 2, "{counted:?}");
    assert_eq!(counted.files[0].file_key, report_key);
    assert_eq!(counted.files[0].days.len(), 1);
    assert_eq!(
        counted.end_date,
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    );
    let bad = stats
        .get_download_stats(imprint_proto::gateway::GetDownloadStatsRequest {
            paper_id: draft.id.clone(),
            start_date: "2026-13-01".to_owned(),
            end_date: String::new(),
        })
        .await
        .expect_err("not a day");
    let violations = imprint_proto::status::field_violations(&bad);
    assert_eq!(violations[0].0, "start_date", "{violations:?}");
    author_photo(server, edge, &draft.author_ids[0], &report_key).await;
    // A file the paper does not offer, under its slug: 404.
    let other = format!(
        "{}/v1/papers/{slug}/files/{}/x.pdf",
        edge.base,
        sha256(&pdf(300_000, 1))
    );
    assert_eq!(edge.http.get(&other).send().await.unwrap().status(), 404);
    slug
}

/// An author's photo uploaded rather than linked: refused when not an image or without what it
/// shows, then on the public profile (as `photo`, and as `photo_url`) and served.
async fn author_photo(server: &Process, edge: &Edge, author_id: &str, not_an_image: &str) {
    use imprint_proto::authors::{
        AuthorPhoto, UpdateAuthorRequest, author_service_client::AuthorServiceClient,
    };
    let mut authors = AuthorServiceClient::new(server.channel().await);
    let current = authors
        .get_author(imprint_proto::authors::GetAuthorRequest {
            key: Some(imprint_proto::authors::get_author_request::Key::Id(
                author_id.to_owned(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    let update = |file_key: &str, alt: &str, version: i64| UpdateAuthorRequest {
        author: Some(imprint_proto::authors::Author {
            id: author_id.to_owned(),
            version,
            photo: Some(AuthorPhoto {
                file_key: file_key.to_owned(),
                alt: alt.to_owned(),
                ..AuthorPhoto::default()
            }),
            ..imprint_proto::authors::Author::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["photo".to_owned()],
        }),
    };
    let refused = authors
        .update_author(update(not_an_image, "", current.version))
        .await
        .expect_err("refused");
    let fields: Vec<String> = imprint_proto::status::field_violations(&refused)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(
        fields.contains(&"author.photo.file_key".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"author.photo.alt".to_owned()),
        "{fields:?}"
    );
    let png_key = format!("sha256:{}", sha256(PNG));
    let updated = authors
        .update_author(update(&png_key, "The author at a lectern", current.version))
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    assert_eq!(
        updated
            .photo
            .as_ref()
            .map(|p| (p.width, p.media_type.as_str())),
        Some((2, "image/png"))
    );
    let profile = edge
        .json(&format!("{}/v1/authors/{}", edge.base, updated.slug))
        .await;
    let url = profile["author"]["photo"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{profile}"))
        .to_owned();
    assert_eq!(profile["author"]["photo_url"], url);
    assert_eq!(profile["author"]["photo"]["alt"], "The author at a lectern");
    let got = edge.http.get(&url).send().await.unwrap();
    assert_eq!(
        (got.status().as_u16(), header(&got, "content-type")),
        (200, "image/png".to_owned())
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), PNG.to_vec());
}

/// The store gone: uploads and downloads are 503 naming it, the paper and its page still
/// render with their downloads listed.
async fn store_down(edge: &Edge, slug: &str) {
    let bytes = pdf(10_000, 30);
    let got = error_of(edge.upload(EDITOR, "late.pdf", bytes, None).await).await;
    assert_eq!(
        (got.0, got.1.as_str()),
        (503, "store_unavailable"),
        "{got:?}"
    );
    let paper = edge.json(&format!("{}/v1/papers/{slug}", edge.base)).await;
    let url = paper["downloads"][0]["url"].as_str().unwrap().to_owned();
    let download = edge.http.get(&url).send().await.unwrap();
    assert_eq!(download.status(), 503);
    assert_eq!(header(&download, "retry-after"), "1");
}

/// A report's text is read at upload: the upload says so, an empty body takes the report's
/// text, a marked file's text replaces a written body, and a file without text is still stored
/// and served, its failure reported on the attachment and a mark on it refused naming why.
async fn full_text(server: &Process, edge: &Edge) {
    use imprint_proto::papers::{
        Attachment, AttachmentKind, TextExtractionState, UpdatePaperRequest,
    };
    let report = imprint_files::pdf::Report {
        title: "Water compacts on the Brahmaputra".to_owned(),
        byline: "A. Author".to_owned(),
        sections: vec![(
            "Findings".to_owned(),
            vec!["Riparian states negotiate watershed compacts under drought.".repeat(30)],
        )],
    }
    .render()
    .unwrap();
    let uploaded = edge.upload(EDITOR, "water.pdf", report.clone(), None).await;
    assert_eq!(uploaded.status(), 201);
    let json: serde_json::Value = uploaded.json().await.unwrap();
    assert_eq!(json["text"]["state"], "extracted", "{json}");
    assert!(
        json["text"]["characters"].as_u64().unwrap() > 1000,
        "{json}"
    );
    let scan = pdf(5_000, 31);
    let json: serde_json::Value = edge
        .upload(EDITOR, "scan.pdf", scan.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["text"]["state"], "failed", "{json}");
    let reason = json["text"]["reason"].as_str().unwrap().to_owned();
    assert!(!reason.is_empty());
    // A form that draws itself sends the reader into recursion until its stack overflows: in
    // its child process, that is the file's failure, not the server's.
    let json: serde_json::Value = edge
        .upload(EDITOR, "recursive.pdf", self_drawing_pdf(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["text"]["state"], "failed", "{json}");
    assert!(
        json["text"]["reason"]
            .as_str()
            .unwrap()
            .contains("made the text reader fail"),
        "{json}"
    );
    let (ready, _) = imprint_testkit::http_get(server.http, "/readyz")
        .await
        .unwrap();
    assert_eq!(ready, 200, "the server outlived the hostile PDF");
    let report_key = format!("sha256:{}", sha256(&report));
    let scan_key = format!("sha256:{}", sha256(&scan));
    let (mut papers, draft) = draft(server, "Water compacts").await;
    assert!(draft.body.is_empty());
    let attachment = |key: &str, kind: AttachmentKind, name: &str, mark: bool| Attachment {
        file_key: key.to_owned(),
        kind: kind.into(),
        name: name.to_owned(),
        use_text_as_body: mark,
        ..Attachment::default()
    };
    let update = |attachments: Vec<Attachment>, body: Option<&str>, version: i64| {
        let mut paths = vec!["attachments".to_owned()];
        paths.extend(body.map(|_| "body".to_owned()));
        UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: draft.id.clone(),
                version,
                attachments,
                body: body.unwrap_or_default().to_owned(),
                ..imprint_proto::papers::Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        }
    };
    // An empty body takes the report's text; the scan is listed with its failure.
    let both = vec![
        attachment(&report_key, AttachmentKind::Report, "water.pdf", false),
        attachment(&scan_key, AttachmentKind::Summary, "scan.pdf", false),
    ];
    let paper = papers
        .update_paper(update(both.clone(), None, draft.version))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&paper.body).contains("negotiate watershed compacts"),
        "{}",
        paper.body
    );
    let states: Vec<_> = paper
        .attachments
        .iter()
        .map(|a| a.text.as_ref().unwrap().state())
        .collect();
    assert_eq!(
        states,
        [TextExtractionState::Extracted, TextExtractionState::Failed]
    );
    assert_eq!(paper.attachments[1].text.as_ref().unwrap().failure, reason);
    // A written body stays unless a file is marked; a mark on the scan is refused.
    let written = papers
        .update_paper(update(
            both.clone(),
            Some("Written by hand."),
            paper.version,
        ))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(written.body, "Written by hand.");
    let marked_scan = vec![
        both[0].clone(),
        attachment(&scan_key, AttachmentKind::Summary, "scan.pdf", true),
    ];
    let refused = papers
        .update_paper(update(marked_scan, None, written.version))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let details = format!("{refused:?}");
    assert!(
        details.contains("attachments[1].use_text_as_body"),
        "{details}"
    );
    let marked = vec![
        attachment(&report_key, AttachmentKind::Report, "water.pdf", true),
        both[1].clone(),
    ];
    let replaced = papers
        .update_paper(update(marked, None, written.version))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert!(words(&replaced.body).contains("negotiate watershed compacts"));
    assert!(
        !replaced.attachments[0].use_text_as_body,
        "the mark is not kept"
    );
    // The scan is stored and served all the same.
    let served = edge.download(&scan_key, &[]).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), scan.as_slice());
}

/// An 800 × 400 photograph-like PNG.
fn wide_png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(800, 400, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// An image's smaller copies: made at upload (WebP at the widths narrower than it), listed on
/// the cover in the public API with a ready `srcset`, and served where the cover is, only for
/// that cover's paper.
async fn cover_copies(server: &Process, edge: &Edge) {
    use imprint_proto::papers::{CoverImage, PublishPaperRequest, UpdatePaperRequest};
    let png = wide_png();
    let json: serde_json::Value = edge
        .upload(EDITOR, "street.png", png.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    let widths: Vec<u64> = json["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, [320, 640], "{json}");
    let (mut papers, draft) = draft(server, "Streets of Peshawar").await;
    let updated = papers
        .update_paper(UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: draft.id.clone(),
                version: draft.version,
                cover: Some(CoverImage {
                    file_key: format!("sha256:{}", sha256(&png)),
                    alt: "A street".to_owned(),
                    ..CoverImage::default()
                }),
                ..imprint_proto::papers::Paper::default()
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
    let renditions = &updated.cover.as_ref().unwrap().renditions;
    assert_eq!(renditions.len(), 2);
    assert_eq!((renditions[0].width, renditions[0].height), (320, 160));
    papers
        .publish_paper(PublishPaperRequest {
            id: draft.id.clone(),
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap();
    let paper = edge
        .json(&format!("{}/v1/papers/{}", edge.base, updated.slug))
        .await;
    let cover = &paper["cover"];
    let srcset = cover["srcset"].as_str().unwrap();
    let entries: Vec<&str> = srcset.split(", ").collect();
    assert_eq!(entries.len(), 3, "{srcset}");
    assert!(
        entries[0].ends_with(" 320w") && entries[2].ends_with(" 800w"),
        "{srcset}"
    );
    let small = cover["renditions"][0]["url"].as_str().unwrap();
    let got = edge.http.get(small).send().await.unwrap();
    assert_eq!(got.status(), 200, "{small}");
    assert_eq!(header(&got, "content-type"), "image/webp");
    assert!(header(&got, "content-disposition").contains("-cover-320w.webp"));
    let bytes = got.bytes().await.unwrap();
    assert_eq!(&bytes[8..12], b"WEBP");
    assert!(
        bytes.len() < png.len() / 4,
        "{} bytes of {}",
        bytes.len(),
        png.len()
    );
    // Another file's key is not this cover's.
    let other = small.replace(
        renditions[0].file_key.trim_start_matches("sha256:"),
        &sha256(b"country,attacks\nPakistan,12\n"),
    );
    assert_eq!(edge.http.get(&other).send().await.unwrap().status(), 404);
}

/// A one-page PDF whose page draws a form that draws itself (`/X1 Do` inside `X1`, which
/// inherits the page's resources): valid syntax, endless recursion for a naive reader.
fn self_drawing_pdf() -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let form_id = doc.new_object_id();
    let draw = Content {
        operations: vec![Operation::new("Do", vec![Object::Name(b"X1".to_vec())])],
    }
    .encode()
    .unwrap();
    doc.objects.insert(
        form_id,
        Object::Stream(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()] },
            draw.clone(),
        )),
    );
    let resources = doc.add_object(dictionary! { "XObject" => dictionary! { "X1" => form_id } });
    let contents = doc.add_object(Stream::new(dictionary! {}, draw));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

async fn scenario(mut store: Store, database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let mut env = store.env();
    if let Some(url) = database_url {
        env.push(("IMPRINT__DATABASE__URL", url));
    }
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let edge = Edge::new(&server);
    whole_files_and_downloads(&edge).await;
    refusals(&edge).await;
    resumable(&edge).await;
    tus_client(&edge).await;
    concurrent(&edge).await;
    let slug = attachments(&server, &edge).await;
    full_text(&server, &edge).await;
    cover_copies(&server, &edge).await;
    if let Store::S3 { _server: s3, .. } = &mut store {
        s3.kill().await.unwrap();
        store_down(&edge, &slug).await;
    }
    // Nothing refused was kept: every stored file is one the tests uploaded whole.
    if matches!(store, Store::Filesystem) {
        let staging = dir.path().join("files/staging");
        let left = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "staging objects left behind");
    }
    let (ready, _) = imprint_testkit::http_get(server.http, "/readyz")
        .await
        .unwrap();
    assert_eq!(ready, 200, "the process is alive and ready");
}

#[tokio::test]
async fn files_on_the_filesystem_store_and_sqlite() {
    scenario(Store::Filesystem, None).await;
}

#[tokio::test]
async fn files_on_s3_and_postgres() {
    let db = imprint_testkit::PgDatabase::create().await;
    scenario(Store::s3().await, Some(db.url.clone())).await;
}

/// A server killed in the middle of a 50 MB upload: no file is made of what it had, the upload
/// resumes where its kept segments end, and the file is the source's exact bytes.
#[tokio::test]
async fn an_upload_survives_the_server_killed_in_its_middle() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let env = Store::Filesystem.env();
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let edge = Edge::new(&server);
    let bytes = pdf(50_000_000, 9);
    let location = header(
        &edge
            .tus_create(EDITOR, bytes.len(), "big.pdf", Some(&sha256(&bytes)))
            .await,
        "location",
    );
    // Send 30 MB in 1 MB pieces, slowly enough to kill the server in the middle, then hang.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let sender = {
        let bytes = bytes.clone();
        tokio::spawn(async move {
            for chunk in bytes[..30_000_000].chunks(1_000_000) {
                if tx.send(Ok(chunk.to_vec())).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_secs(120)).await;
        })
    };
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let patch = {
        let base = edge.base.clone();
        let location = location.clone();
        tokio::spawn(async move {
            client()
                .patch(format!("{base}{location}"))
                .bearer_auth(EDITOR)
                .header("tus-resumable", "1.0.0")
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", "0")
                .body(body)
                .send()
                .await
        })
    };
    // Kill once the server has kept at least 16 MB (two segments).
    let mut kept = 0u64;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        kept = header(&edge.tus_head(&location, EDITOR).await, "upload-offset")
            .parse()
            .unwrap_or(0);
        if kept >= 16 * 1024 * 1024 {
            break;
        }
    }
    assert!(kept >= 16 * 1024 * 1024, "the server kept {kept} bytes");
    server.kill().await;
    sender.abort();
    // The request died with the server; how the client saw that does not matter here.
    let _ = patch.await;
    // No file was made of the partial bytes.
    let blobs = dir.path().join("files/blobs");
    let named = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(named, 0, "a file was named before the upload was whole");

    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let edge = Edge::new(&server);
    let head = edge.tus_head(&location, EDITOR).await;
    let offset: usize = header(&head, "upload-offset").parse().unwrap();
    assert!(
        offset as u64 >= 16 * 1024 * 1024 && offset < 30_000_000,
        "resumes at {offset}"
    );
    assert_eq!(
        offset % (8 * 1024 * 1024),
        0,
        "at a segment's end: {offset}"
    );
    let rest = edge
        .tus_patch(&location, offset, bytes[offset..].to_vec().into())
        .await;
    assert_eq!(rest.status(), 204, "{:?}", rest.text().await);
    let key = format!("sha256:{}", sha256(&bytes));
    let download = edge.download(&key, &[]).await;
    let mut got = Sha256::new();
    let mut stream = download.bytes_stream();
    while let Some(chunk) = stream.next().await {
        got.update(chunk.unwrap());
    }
    assert_eq!(
        hex(&got.finalize()),
        sha256(&bytes),
        "the stored file is the source"
    );
}

/// Files nobody references are removed after the grace period (2 s here), by the replica that
/// leads; files a paper references never are, however long; a paper that lets go of a file, or
/// is deleted, starts its grace period; a revision naming a removed file cannot be restored.
#[tokio::test]
async fn unreferenced_files_are_removed_after_the_grace_period_and_referenced_ones_never() {
    use imprint_proto::papers::{
        Attachment, AttachmentKind, CoverImage, DeletePaperRequest, Paper,
        RestorePaperRevisionRequest, UpdatePaperRequest,
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let mut env = Store::Filesystem.env();
    env.push(("IMPRINT__STORAGE__GRACE_SECS", "2".to_owned()));
    env.push(("IMPRINT__STORAGE__SWEEP_SECS", "1".to_owned()));
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let edge = Edge::new(&server);
    let unused = pdf(20_000, 40);
    let report = pdf(20_000, 41);
    for (name, bytes) in [
        ("unused.pdf", unused.clone()),
        ("report.pdf", report.clone()),
        ("cover.png", PNG.to_vec()),
    ] {
        assert_eq!(edge.upload(EDITOR, name, bytes, None).await.status(), 201);
    }
    let key = |bytes: &[u8]| format!("sha256:{}", sha256(bytes));
    let stored = |bytes: Vec<u8>| {
        let edge = &edge;
        async move { edge.download(&key(&bytes), &[]).await.status() == 200 }
    };
    let (mut papers, draft) = draft(&server, "Files kept while referenced").await;
    let set = |cover: Option<CoverImage>, version: i64| UpdatePaperRequest {
        paper: Some(Paper {
            id: draft.id.clone(),
            version,
            attachments: vec![Attachment {
                file_key: key(&report),
                kind: AttachmentKind::Report.into(),
                name: "report.pdf".to_owned(),
                ..Attachment::default()
            }],
            cover,
            ..Paper::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["attachments".to_owned(), "cover".to_owned()],
        }),
    };
    let cover = CoverImage {
        file_key: key(PNG),
        alt: "A map".to_owned(),
        ..CoverImage::default()
    };
    let with_cover = papers
        .update_paper(set(Some(cover), draft.version))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    imprint_system_tests::eventually(20, "the unused upload is removed", || {
        let kept = stored(unused.clone());
        async move { !kept.await }
    })
    .await;
    // Well past the grace period, what the paper references is still there.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(stored(report.clone()).await, "the report is referenced");
    assert!(stored(PNG.to_vec()).await, "the cover is referenced");
    let without = papers
        .update_paper(set(None, with_cover.version))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    // Its record goes first, then its bytes: the restore below must find them gone.
    let png_blob = {
        let hex = sha256(PNG);
        dir.path()
            .join(format!("files/blobs/sha256/{}/{hex}", &hex[..2]))
    };
    imprint_system_tests::eventually(20, "the cover let go of is removed", || {
        let kept = stored(PNG.to_vec());
        let on_disk = png_blob.exists();
        async move { !kept.await && !on_disk }
    })
    .await;
    assert!(stored(report.clone()).await);
    let refused = papers
        .restore_paper_revision(RestorePaperRevisionRequest {
            id: draft.id.clone(),
            version: without.version,
            revision_version: with_cover.version,
        })
        .await
        .expect_err("the cover is gone");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains(&key(PNG)),
        "{}",
        refused.message()
    );
    papers
        .delete_paper(DeletePaperRequest {
            id: draft.id.clone(),
            version: without.version,
        })
        .await
        .unwrap();
    imprint_system_tests::eventually(20, "a deleted paper's report is removed", || {
        let kept = stored(report.clone());
        async move { !kept.await }
    })
    .await;
    // The record goes before the bytes: the last removal may still be under way.
    let blobs = dir.path().join("files/blobs");
    imprint_system_tests::eventually(20, "nothing is left in the store", || {
        let left = walk(&blobs);
        async move { left.is_empty() }
    })
    .await;
}

/// Every file under `dir`, as paths below it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// Runs `tests/widget/upload_test.mjs` with `args`; its stdout.
async fn browser(args: &[&str]) -> String {
    let node = std::env::var("IMPRINT_NODE").unwrap_or_else(|_| "node".to_owned());
    let output = tokio::process::Command::new(&node)
        .arg(repo_root().join("tests/widget/upload_test.mjs"))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {node}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.contains("every upload check passed"),
        "the browser test failed (scripts/test installs chromium and playwright-core)\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}");
    stdout
}

/// Serves an empty editorial page at every path of a fresh localhost port; returns its origin.
async fn editor_site() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let page = "<!doctype html><title>Editor</title><p>Imprint's editor";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// Headless Chromium uploads a PDF from a page on an editorial origin; the paper that names it
/// is a draft, and the public download is 404; once published, the browser downloads the same
/// bytes from the public API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_uploads_a_pdf_that_is_public_once_its_paper_is() {
    use imprint_proto::papers::{
        Attachment, AttachmentKind, Paper, PublishPaperRequest, UpdatePaperRequest,
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let editor = editor_site().await;
    let mut env = Store::Filesystem.env();
    env.push(("IMPRINT__AUTH__EDITOR_ORIGINS", editor.clone()));
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let api = format!("http://{}", server.public);
    let out = browser(&[
        "--mode", "upload", "--editor", &editor, "--api", &api, "--token", EDITOR,
    ])
    .await;
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key "))
        .expect("the browser printed the key")
        .to_owned();
    let (mut papers, draft) = draft(&server, "Uploaded from a browser").await;
    let updated = papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: draft.id.clone(),
                version: draft.version,
                attachments: vec![Attachment {
                    file_key: key.clone(),
                    kind: AttachmentKind::Report.into(),
                    name: "browser.pdf".to_owned(),
                    ..Attachment::default()
                }],
                ..Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["attachments".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let hex = key.trim_start_matches("sha256:");
    let url = format!("{api}/v1/papers/{}/files/{hex}/browser.pdf", updated.slug);
    browser(&[
        "--mode", "download", "--api", &api, "--url", &url, "--expect", "404",
    ])
    .await;
    papers
        .publish_paper(PublishPaperRequest {
            id: draft.id.clone(),
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap();
    browser(&[
        "--mode", "download", "--api", &api, "--url", &url, "--expect", "200", "--sha256", hex,
    ])
    .await;
}
