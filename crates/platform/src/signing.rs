//! Tokens Imprint hands out and takes back (page tokens, recommendation ids, served-rail
//! views), sealed with an HMAC-SHA256 tag so that a client can change nothing in them and make
//! none up. The keys come from `signing.keys`, newest first: the first seals, every one opens,
//! so a key is rotated by putting a new one first and dropping the old one once what it sealed
//! no longer matters: views expire after a day; a page token or recommendation id sealed by a
//! dropped key is refused (a client then starts its list again, a report is not counted).
//! Every process that hands out or takes back a token must hold the same keys: one secret for
//! the whole deployment.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the tag kept: 128 bits are beyond guessing, and keep tokens short in URLs.
const TAG_BYTES: usize = 16;
/// Fewest bytes a key may have.
pub const MIN_KEY_BYTES: usize = 32;

/// What a token is for: a token sealed for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Where a list resumes (`page_token`, the public API's `cursor`).
    PageToken,
    /// One served related publication.
    RecommendationId,
    /// One served rail, which interactions must name.
    View,
    /// A preview link to one unpublished paper.
    PreviewLink,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::PageToken => b"imprint page token v1",
            Self::RecommendationId => b"imprint recommendation id v1",
            Self::View => b"imprint view v1",
            Self::PreviewLink => b"imprint preview link v1",
        }
    }
}

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// None configured where one is needed.
    #[error(
        "signing.keys is required with --role {0}: every role hands out or takes back signed tokens, and all must hold the same keys; make one with `openssl rand -hex 32`"
    )]
    Missing(&'static str),
    /// A key is too short.
    #[error(
        "signing.keys[{0}]: must be at least {MIN_KEY_BYTES} bytes; make one with `openssl rand -hex 32`"
    )]
    TooShort(usize),
    /// The embedded default's key file holds no usable key.
    #[error(
        "the signing key file {0} holds no key of {MIN_KEY_BYTES} bytes or more; delete it to have a new one made (tokens handed out before stop working), or set signing.keys"
    )]
    BadFile(String),
    /// The embedded default's key file could not be read or written.
    #[error("the signing key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Seals and opens tokens with the configured keys.
#[derive(Clone)]
pub struct Signer {
    /// Newest first: the first seals.
    keys: Arc<Vec<Hmac<Sha256>>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Signer {
    /// From secrets, newest first; at least one, each at least [`MIN_KEY_BYTES`].
    pub fn new(secrets: &[String]) -> Result<Self, SigningError> {
        let mut keys = Vec::with_capacity(secrets.len());
        for (i, secret) in secrets.iter().enumerate() {
            check_key(i, secret)?;
            let secret = secret.trim();
            if secret.contains("change-me") {
                tracing::warn!(
                    "signing.keys[{i}] is a placeholder from the examples: whoever has read them can forge this deployment's tokens; make a key with `openssl rand -hex 32`"
                );
            }
            keys.push(
                Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                    .map_err(|_| SigningError::TooShort(i))?,
            );
        }
        if keys.is_empty() {
            return Err(SigningError::TooShort(0));
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// The embedded default's key, kept in `dir/signing.key` (made on first start, readable by
    /// this user only), so that tokens survive a restart.
    pub fn from_file_in(dir: &Path) -> Result<Self, SigningError> {
        let path = dir.join("signing.key");
        let failed = |source| SigningError::File {
            path: path.display().to_string(),
            source,
        };
        let secret = match std::fs::read_to_string(&path) {
            Ok(secret) => secret,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(failed)?;
                make_key_file(&path).map_err(failed)?
            }
            Err(e) => return Err(failed(e)),
        };
        if secret.trim().len() < MIN_KEY_BYTES {
            return Err(SigningError::BadFile(path.display().to_string()));
        }
        Self::new(&[secret])
    }

    /// `payload` sealed for `purpose`, bound to `context` (which the token does not carry, and
    /// which must be given again to open it): URL-safe base64.
    pub fn seal(&self, purpose: Purpose, context: &[u8], payload: &[u8]) -> String {
        let mut token = Vec::with_capacity(payload.len() + TAG_BYTES);
        token.extend_from_slice(payload);
        if let Some(key) = self.keys.first() {
            token.extend_from_slice(&tag(key, purpose, context, payload));
        }
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The payload of a token sealed for `purpose` and `context` by any of the keys; `None`
    /// for anything else.
    pub fn open(&self, purpose: Purpose, context: &[u8], token: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        if bytes.len() < TAG_BYTES {
            return None;
        }
        let tag = bytes.split_off(bytes.len() - TAG_BYTES);
        self.keys
            .iter()
            .any(|key| {
                let mut mac = key.clone();
                feed(&mut mac, purpose, context, &bytes);
                mac.verify_truncated_left(&tag).is_ok()
            })
            .then_some(bytes)
    }
}

/// Refuses a configured key too short to be a secret.
pub fn check_key(index: usize, secret: &str) -> Result<(), SigningError> {
    if secret.trim().len() < MIN_KEY_BYTES {
        return Err(SigningError::TooShort(index));
    }
    Ok(())
}

/// Makes the key file at `path`, or reads the one another process made first. The key is
/// written whole to a file of its own, then linked into place, which fails if one is there: no
/// process ever reads half a key, and all that start at once end up with the same one.
fn make_key_file(path: &Path) -> std::io::Result<String> {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let draft = path.with_extension(format!("key.{}", uuid::Uuid::new_v4().simple()));
    write_private(&draft, &secret)?;
    let linked = std::fs::hard_link(&draft, path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a signing key for this data directory");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

fn feed(mac: &mut Hmac<Sha256>, purpose: Purpose, context: &[u8], payload: &[u8]) {
    let label = purpose.label();
    // Lengths first, so that no two (purpose, context, payload) triples feed the same bytes.
    for part in [label, context, payload] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
}

fn tag(key: &Hmac<Sha256>, purpose: Purpose, context: &[u8], payload: &[u8]) -> [u8; TAG_BYTES] {
    let mut mac = key.clone();
    feed(&mut mac, purpose, context, payload);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_BYTES];
    out.copy_from_slice(&full[..TAG_BYTES]);
    out
}

#[cfg(unix)]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    std::fs::write(path, secret)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const A: &str = "an old signing key of at least 32 bytes";
    const B: &str = "a new signing key, also 32 bytes or more";

    #[test]
    fn seals_open_only_for_their_purpose_context_and_keys() {
        let old = Signer::new(&[A.to_owned()]).unwrap();
        let token = old.seal(Purpose::PageToken, b"topic=x", b"payload");
        assert_eq!(
            old.open(Purpose::PageToken, b"topic=x", &token).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(old.open(Purpose::View, b"topic=x", &token), None);
        assert_eq!(old.open(Purpose::PageToken, b"topic=y", &token), None);
        // Rotation: the new key seals, the old one still opens what it sealed.
        let rotated = Signer::new(&[B.to_owned(), A.to_owned()]).unwrap();
        assert!(
            rotated
                .open(Purpose::PageToken, b"topic=x", &token)
                .is_some()
        );
        let fresh = rotated.seal(Purpose::PageToken, b"topic=x", b"payload");
        assert!(old.open(Purpose::PageToken, b"topic=x", &fresh).is_none());
        let retired = Signer::new(&[B.to_owned()]).unwrap();
        assert!(
            retired
                .open(Purpose::PageToken, b"topic=x", &token)
                .is_none()
        );
    }

    #[test]
    fn tampering_and_junk_are_refused() {
        let s = Signer::new(&[A.to_owned()]).unwrap();
        let token = s.seal(Purpose::View, b"", b"partner.example");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[0] ^= 1;
        assert!(
            s.open(Purpose::View, b"", &URL_SAFE_NO_PAD.encode(bytes))
                .is_none()
        );
        for junk in ["", "x", "!!!", &"A".repeat(10_000)] {
            assert!(s.open(Purpose::View, b"", junk).is_none(), "{junk}");
        }
        assert!(matches!(
            Signer::new(&["short".to_owned()]),
            Err(SigningError::TooShort(0))
        ));
        assert!(Signer::new(&[]).is_err());
    }

    #[test]
    fn a_damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("signing.key"), "").unwrap();
        let e = Signer::from_file_in(dir.path()).unwrap_err();
        assert!(e.to_string().contains("signing.key"), "{e}");
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Signer::from_file_in(&path).unwrap())
            })
            .collect();
        let signers: Vec<Signer> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let token = signers[0].seal(Purpose::View, b"", b"x");
        assert!(
            signers
                .iter()
                .all(|s| s.open(Purpose::View, b"", &token).is_some())
        );
        assert_eq!(
            std::fs::read_dir(&path).unwrap().count(),
            1,
            "only signing.key is left"
        );
    }

    #[test]
    fn the_embedded_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Signer::from_file_in(dir.path()).unwrap();
        let token = first.seal(Purpose::PageToken, b"", b"x");
        let again = Signer::from_file_in(dir.path()).unwrap();
        assert!(again.open(Purpose::PageToken, b"", &token).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("signing.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
