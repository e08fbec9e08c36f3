//! Who may call what on the editorial gRPC API.
//!
//! Every call at the edge carries `authorization: Bearer <token>`: a static service token from
//! the settings, or a JWT from the institute's identity provider (HS256 with a shared secret,
//! RS256 or ES256 with public keys; issuer, audience and expiry checked). Each method needs a
//! role ([`required_role`]); health and reflection are open. A call without a valid token is
//! `UNAUTHENTICATED`, one whose role is too weak `PERMISSION_DENIED`, both before any service
//! sees it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imprint_domain::Actor;
use imprint_platform::auth::Role;
use imprint_platform::settings::{AuthSettings, JwtSettings};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::{Digest, Sha256};
use tonic::Status;
use tower::{Layer, Service};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: the token's name, or the JWT's `sub`.
    pub subject: String,
    /// What they may do; `None` for a valid token that grants no role.
    pub role: Option<Role>,
    /// This process's own services calling each other through the edge: the only callers who
    /// may say whom a call is made for ([`imprint_platform::caller`]).
    pub internal: bool,
}

/// Checks bearer tokens.
pub struct Authenticator {
    /// SHA-256 of each static token, with its name and role: tokens are compared by digest, so
    /// the secrets are not kept in memory longer than loading takes.
    tokens: HashMap<[u8; 32], (String, Role)>,
    /// SHA-256 of the internal token, when this process has one.
    internal: Option<[u8; 32]>,
    /// JWT verification, when configured.
    jwt: Option<Jwt>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &self.tokens.len())
            .field("jwt", &self.jwt.is_some())
            .finish()
    }
}

/// JWT keys and the checks every token must pass.
struct Jwt {
    /// The HS256 secret.
    hmac: Option<DecodingKey>,
    /// RSA public keys, for RS256.
    rsa: Vec<DecodingKey>,
    /// P-256 public keys, for ES256.
    ec: Vec<DecodingKey>,
    /// Issuer, audience, leeway.
    issuer: String,
    audience: String,
    leeway: u64,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticator {
    /// From the settings, plus `internal`: a token this process's own services use to call
    /// each other through the edge, granted `admin`.
    pub fn new(settings: &AuthSettings, internal: Option<&str>) -> Result<Self, JwtError> {
        let mut tokens: HashMap<[u8; 32], (String, Role)> = settings
            .tokens
            .iter()
            .map(|(name, t)| (digest(t.token.trim()), (name.clone(), t.role)))
            .collect();
        if let Some(token) = internal {
            tokens.insert(digest(token), ("internal".to_owned(), Role::Admin));
        }
        let internal = internal.map(digest);
        let jwt = if settings.jwt.is_enabled() {
            Some(Jwt::new(&settings.jwt)?)
        } else {
            None
        };
        Ok(Self {
            tokens,
            internal,
            jwt,
        })
    }

    /// Who sent `headers`, or why they are not let in.
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Status> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(Status::unauthenticated(
                "missing bearer token: send the metadata `authorization: Bearer <token>`",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
            })?;
        let token_digest = digest(token);
        if let Some((name, role)) = self.tokens.get(&token_digest) {
            return Ok(Principal {
                subject: name.clone(),
                role: Some(*role),
                internal: self.internal == Some(token_digest),
            });
        }
        match &self.jwt {
            Some(jwt) if token.matches('.').count() == 2 => jwt.verify(token),
            _ => Err(Status::unauthenticated("the bearer token is not valid")),
        }
    }
}

impl Authenticator {
    /// The caller of `headers` if their role is at least `needed` for `what` (a method, an
    /// endpoint), or why not: for gRPC calls and the edge's HTTP endpoints alike.
    pub fn admit(
        &self,
        headers: &http::HeaderMap,
        needed: Role,
        what: &str,
    ) -> Result<Principal, Status> {
        let principal = self.authenticate(headers)?;
        match principal.role {
            Some(role) if role >= needed => Ok(principal),
            Some(role) => Err(Status::permission_denied(format!(
                "{what} needs the {needed} role; this token has {role}"
            ))),
            None => Err(Status::permission_denied(format!(
                "{what} needs the {needed} role; this token grants no role"
            ))),
        }
    }
}

/// What is wrong with the JWT settings, or with issuing a token.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// A setting JWTs need is not set (its key under `auth.jwt`).
    #[error("auth.jwt.{0} is required with JWTs")]
    Missing(&'static str),
    /// A public key file could not be read.
    #[error("auth.jwt.public_key_files: cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A public key file holds no key JWTs can be checked with.
    #[error("auth.jwt.public_key_files: {} is not an RSA or EC public key in PEM", .0.display())]
    NotAKey(std::path::PathBuf),
    /// Signing failed.
    #[error("signing the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

impl Jwt {
    fn new(settings: &JwtSettings) -> Result<Self, JwtError> {
        let hmac = settings
            .hs256_secret
            .as_ref()
            .map(|secret| DecodingKey::from_secret(secret.as_bytes()));
        // Checked with the settings: JWTs on means both are set.
        let required =
            |value: &Option<String>, key: &'static str| value.clone().ok_or(JwtError::Missing(key));
        let issuer = required(&settings.issuer, "issuer")?;
        let audience = required(&settings.audience, "audience")?;
        let mut rsa = Vec::new();
        let mut ec = Vec::new();
        for path in &settings.public_key_files {
            let pem = std::fs::read(path).map_err(|source| JwtError::Unreadable {
                path: path.clone(),
                source,
            })?;
            if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                rsa.push(key);
            } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                ec.push(key);
            } else {
                return Err(JwtError::NotAKey(path.clone()));
            }
        }
        Ok(Self {
            hmac,
            rsa,
            ec,
            issuer,
            audience,
            leeway: settings.leeway_secs,
        })
    }

    fn verify(&self, token: &str) -> Result<Principal, Status> {
        let invalid =
            |why: &str| Status::unauthenticated(format!("the bearer token is not valid: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
        let keys: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.hmac.iter().collect(),
            Algorithm::RS256 => self.rsa.iter().collect(),
            Algorithm::ES256 => self.ec.iter().collect(),
            _ => Vec::new(),
        };
        if keys.is_empty() {
            return Err(invalid(&format!(
                "{:?} tokens are not accepted here",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut last = invalid("bad signature");
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    // Changes are recorded under the subject: this one would pass for Imprint.
                    if data.claims.sub.eq_ignore_ascii_case(Actor::SYSTEM) {
                        return Err(invalid(
                            "its sub 'system' is what Imprint's own changes are recorded under",
                        ));
                    }
                    let role = data.claims.role();
                    return Ok(Principal {
                        subject: data.claims.sub,
                        role,
                        internal: false,
                    });
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind;
                    let why = match e.kind() {
                        ErrorKind::ExpiredSignature => "expired",
                        ErrorKind::ImmatureSignature => "not valid yet (nbf)",
                        ErrorKind::InvalidIssuer => "wrong issuer",
                        ErrorKind::InvalidAudience => "wrong audience",
                        ErrorKind::MissingRequiredClaim(_) => {
                            "missing one of the claims exp, iss, aud, sub"
                        }
                        ErrorKind::InvalidSignature => "bad signature",
                        _ => "malformed",
                    };
                    last = invalid(why);
                    // Another key may have signed it (rotation); only a bad signature says so.
                    if !matches!(e.kind(), ErrorKind::InvalidSignature) {
                        break;
                    }
                }
            }
        }
        Err(last)
    }
}

/// The claims Imprint reads. `roles` (a list, or one string) or `role` names the roles; the
/// strongest known one counts, unknown names are ignored.
#[derive(Debug, serde::Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: serde_json::Value,
    #[serde(default)]
    role: serde_json::Value,
}

impl Claims {
    fn role(&self) -> Option<Role> {
        let mut names = Vec::new();
        for value in [&self.roles, &self.role] {
            match value {
                serde_json::Value::String(s) => names.push(s.as_str()),
                serde_json::Value::Array(items) => {
                    names.extend(items.iter().filter_map(serde_json::Value::as_str));
                }
                _ => {}
            }
        }
        names.into_iter().filter_map(|n| n.parse().ok()).max()
    }
}

/// A signed HS256 token for `subject` with `role`, valid for `ttl`: what `imprint serve --demo`
/// hands out. Needs `auth.jwt.hs256_secret`, issuer and audience.
pub fn issue_hs256(
    jwt: &JwtSettings,
    subject: &str,
    role: Role,
    ttl: Duration,
) -> Result<String, JwtError> {
    let Some(secret) = &jwt.hs256_secret else {
        return Err(JwtError::Missing("hs256_secret"));
    };
    // A clock before 1970 is a broken machine; its tokens are simply already expired.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "sub": subject,
        "iss": jwt.issuer,
        "aud": jwt.audience,
        "iat": now,
        "exp": now + ttl.as_secs(),
        "roles": [role.name()],
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(JwtError::from)
}

/// The role a gRPC method needs, or `None` when it is open to all (health, reflection).
/// Methods not listed need `admin`: a new RPC is closed until someone decides otherwise.
pub fn required_role(path: &str) -> Option<Role> {
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or(("", ""));
    use Role::{Admin, Editor, Publisher, Viewer};
    use imprint_proto::authors::author_service_server::SERVICE_NAME as AUTHORS;
    use imprint_proto::gateway::download_stats_service_server::SERVICE_NAME as DOWNLOADS;
    use imprint_proto::gateway::preview_link_service_server::SERVICE_NAME as PREVIEWS;
    use imprint_proto::gateway::publication_page_service_server::SERVICE_NAME as PAGES;
    use imprint_proto::papers::paper_service_server::SERVICE_NAME as PAPERS;
    use imprint_proto::papers::taxonomy_service_server::SERVICE_NAME as TAXONOMY;
    use imprint_proto::recommendations::recommendation_service_server::SERVICE_NAME as RECOMMENDATIONS;
    use tonic_health::pb::health_server::SERVICE_NAME as HEALTH;
    use tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME as REFLECTION;
    use tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME as REFLECTION_V1ALPHA;
    Some(match service {
        HEALTH | REFLECTION | REFLECTION_V1ALPHA => return None,
        PAPERS => match method {
            "GetPaper" | "ListPapers" | "ListPaperRevisions" | "GetPaperRevisionDiff" => Viewer,
            // Restoring is editing: it changes the content, never the workflow.
            "CreatePaper" | "UpdatePaper" | "RestorePaperRevision" => Editor,
            // A batch may publish what it creates.
            "PublishPaper" | "UnpublishPaper" | "DeletePaper" | "BatchCreatePapers" => Publisher,
            // Scheduling decides when a paper goes public or leaves: a publisher's call.
            "SchedulePublish" | "ScheduleUnpublish" | "CancelSchedule" => Publisher,
            _ => Admin,
        },
        // A vocabulary is the institute's structure: only admins change it.
        TAXONOMY => match method {
            "GetTerm" | "ListTerms" => Viewer,
            _ => Admin,
        },
        AUTHORS => match method {
            "GetAuthor"
            | "BatchGetAuthors"
            | "ListAuthors"
            | "ListAuthorRevisions"
            | "GetAuthorRevisionDiff" => Viewer,
            "CreateAuthor" | "BatchCreateAuthors" | "UpdateAuthor" | "RestoreAuthorRevision" => {
                Editor
            }
            "DeleteAuthor" => Publisher,
            _ => Admin,
        },
        RECOMMENDATIONS => match method {
            "GetRelatedPublications"
            | "SearchPublications"
            | "GetRelatedOverrides"
            | "GetClickThroughRates" => Viewer,
            "RecordInteraction" => Editor,
            _ => Admin,
        },
        PAGES => match method {
            "GetPublicationPage" => Viewer,
            _ => Admin,
        },
        // Sharing a draft for review is an editor's call; so is taking the link back.
        PREVIEWS => match method {
            "CreatePreviewLink" | "ListPreviewLinks" | "RevokePreviewLink" => Editor,
            _ => Admin,
        },
        DOWNLOADS => match method {
            "GetDownloadStats" => Viewer,
            _ => Admin,
        },
        _ => Admin,
    })
}

/// Checks every call against [`required_role`] before the services see it.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Arc<Authenticator>,
}

impl AuthLayer {
    /// Checking calls with `auth`.
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// A service behind [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S> Authenticated<S> {
    fn admit(&self, path: &str, headers: &http::HeaderMap) -> Result<Option<Principal>, Status> {
        let Some(needed) = required_role(path) else {
            return Ok(None);
        };
        let method = path.rsplit('/').next().unwrap_or(path);
        self.auth.admit(headers, needed, method).map(Some)
    }
}

impl<S, B, RB> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let admitted = self
            .admit(request.uri().path(), request.headers())
            .and_then(|principal| {
                let actor = principal.as_ref().map(actor_of).transpose()?;
                Ok((principal, actor))
            });
        match admitted {
            Ok((principal, actor)) => {
                // Callers from outside are first-party and speak for themselves, whatever
                // their metadata says; the process's own services say whom they act for.
                if !principal.as_ref().is_some_and(|p| p.internal) {
                    imprint_platform::caller::strip(request.headers_mut());
                    if let Some(actor) = &actor {
                        imprint_platform::caller::set_actor(request.headers_mut(), actor);
                    }
                }
                if let Some(principal) = principal {
                    tracing::debug!(subject = %principal.subject, path = %request.uri().path(), "call admitted");
                    request.extensions_mut().insert(principal);
                }
                Box::pin(self.inner.call(request))
            }
            Err(status) => {
                tracing::info!(path = %request.uri().path(), code = ?status.code(), reason = %status.message(), "call refused");
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// Who an admitted caller's changes are recorded as.
pub fn actor_of(principal: &Principal) -> Result<Actor, Status> {
    let Some(role) = principal.role else {
        return Ok(Actor::System);
    };
    Actor::from_record(&principal.subject, Some(role))
        .map_err(|e| Status::unauthenticated(format!("the bearer token is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use imprint_platform::settings::{Settings, TokenSettings};
    use tonic::Code;

    const SECRET: &str = "an HS256 secret of at least 32 bytes, for tests";
    // Test-only key pairs, made with openssl for these tests and used nowhere else.
    const RSA_PRIVATE: &str = include_str!("../tests/keys/rsa-private.pem");
    const RSA_PUBLIC: &str = "tests/keys/rsa-public.pem";
    const EC_PRIVATE: &str = include_str!("../tests/keys/ec-private.pem");
    const EC_PUBLIC: &str = "tests/keys/ec-public.pem";

    fn settings() -> AuthSettings {
        let mut s = Settings::default().auth;
        s.tokens.insert(
            "importer".to_owned(),
            TokenSettings {
                token: "importer-token-0123456789".to_owned(),
                role: Role::Publisher,
            },
        );
        s.jwt.issuer = Some("https://id.example.org".to_owned());
        s.jwt.audience = Some("imprint".to_owned());
        s.jwt.hs256_secret = Some(SECRET.to_owned());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        s.jwt.public_key_files = vec![dir.join(RSA_PUBLIC), dir.join(EC_PUBLIC)];
        s
    }

    fn headers(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    fn sign(alg: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    }

    fn claims(exp_offset: i64, iss: &str, aud: &str) -> serde_json::Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        serde_json::json!({"sub": "ada", "iss": iss, "aud": aud, "exp": now + exp_offset, "roles": ["viewer", "editor", "unknown"]})
    }

    #[test]
    fn static_tokens_and_every_jwt_algorithm() {
        let auth = Authenticator::new(&settings(), Some("internal-token-abcdefgh")).unwrap();
        let p = auth
            .authenticate(&headers("importer-token-0123456789"))
            .unwrap();
        assert_eq!(
            (p.subject.as_str(), p.role),
            ("importer", Some(Role::Publisher))
        );
        let p = auth
            .authenticate(&headers("internal-token-abcdefgh"))
            .unwrap();
        assert_eq!((p.role, p.internal), (Some(Role::Admin), true));
        let p = auth
            .authenticate(&headers("importer-token-0123456789"))
            .unwrap();
        assert!(!p.internal, "only the process's own token is internal");

        let good = claims(600, "https://id.example.org", "imprint");
        for (alg, key) in [
            (
                Algorithm::HS256,
                EncodingKey::from_secret(SECRET.as_bytes()),
            ),
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
            ),
            (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
            ),
        ] {
            let p = auth
                .authenticate(&headers(&sign(alg, &key, &good)))
                .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            assert_eq!(
                (p.subject.as_str(), p.role),
                ("ada", Some(Role::Editor)),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn bad_tokens_say_why() {
        let auth = Authenticator::new(&settings(), None).unwrap();
        let hs = EncodingKey::from_secret(SECRET.as_bytes());
        let cases = [
            (
                sign(
                    Algorithm::HS256,
                    &hs,
                    &claims(-600, "https://id.example.org", "imprint"),
                ),
                "expired",
            ),
            (
                sign(
                    Algorithm::HS256,
                    &hs,
                    &claims(600, "https://evil.example", "imprint"),
                ),
                "wrong issuer",
            ),
            (
                sign(
                    Algorithm::HS256,
                    &hs,
                    &claims(600, "https://id.example.org", "other"),
                ),
                "wrong audience",
            ),
            (
                sign(
                    Algorithm::HS256,
                    &EncodingKey::from_secret(b"another secret of thirty-two bytes!!"),
                    &claims(600, "https://id.example.org", "imprint"),
                ),
                "bad signature",
            ),
            (
                sign(
                    Algorithm::HS384,
                    &hs,
                    &claims(600, "https://id.example.org", "imprint"),
                ),
                "HS384 tokens are not accepted",
            ),
            (
                sign(Algorithm::HS256, &hs, &{
                    let mut c = claims(600, "https://id.example.org", "imprint");
                    c["sub"] = "System".into();
                    c
                }),
                "its sub 'system'",
            ),
            ("not-a-known-token".to_owned(), "not valid"),
            ("a.b.c".to_owned(), "not a JWT"),
        ];
        for (token, why) in cases {
            let e = auth.authenticate(&headers(&token)).unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated);
            assert!(e.message().contains(why), "{why}: {}", e.message());
        }
        let e = auth.authenticate(&http::HeaderMap::new()).unwrap_err();
        assert!(e.message().contains("missing bearer token"));
        let mut basic = http::HeaderMap::new();
        basic.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(
            auth.authenticate(&basic)
                .unwrap_err()
                .message()
                .contains("Bearer <token>")
        );
    }

    #[test]
    fn unreadable_key_files_are_named() {
        let mut s = settings();
        s.jwt.public_key_files = vec!["/nonexistent/key.pem".into()];
        assert!(
            Authenticator::new(&s, None)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/key.pem")
        );
        let mut s = settings();
        s.jwt.public_key_files =
            vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")];
        assert!(
            Authenticator::new(&s, None)
                .unwrap_err()
                .to_string()
                .contains("not an RSA or EC public key")
        );
    }

    #[test]
    fn issued_demo_tokens_verify() {
        let s = settings();
        let token = issue_hs256(&s.jwt, "demo", Role::Editor, Duration::from_secs(60)).unwrap();
        let p = Authenticator::new(&s, None)
            .unwrap()
            .authenticate(&headers(&token))
            .unwrap();
        assert_eq!((p.subject.as_str(), p.role), ("demo", Some(Role::Editor)));
    }

    #[test]
    fn roles_per_method() {
        assert_eq!(required_role("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            required_role("/imprint.papers.v1.PaperService/GetPaper"),
            Some(Role::Viewer)
        );
        assert_eq!(
            required_role("/imprint.papers.v1.PaperService/UpdatePaper"),
            Some(Role::Editor)
        );
        assert_eq!(
            required_role("/imprint.papers.v1.PaperService/PublishPaper"),
            Some(Role::Publisher)
        );
        assert_eq!(
            required_role("/imprint.gateway.v1.PreviewLinkService/CreatePreviewLink"),
            Some(Role::Editor)
        );
        for method in ["SchedulePublish", "ScheduleUnpublish", "CancelSchedule"] {
            assert_eq!(
                required_role(&format!("/imprint.papers.v1.PaperService/{method}")),
                Some(Role::Publisher),
                "{method}"
            );
        }
        assert_eq!(
            required_role("/imprint.recommendations.v1.RecommendationService/SetRelatedOverrides"),
            Some(Role::Admin)
        );
        assert_eq!(
            required_role("/imprint.papers.v1.PaperService/NewThing"),
            Some(Role::Admin)
        );
        assert_eq!(required_role("/elsewhere"), Some(Role::Admin));
    }
}
