//! The one TLS provider of the process's outgoing HTTPS (webhooks, the S3 store): rustls on
//! ring, which the tree already has for JWTs, rather than aws-lc, which would need a C and
//! assembler build. reqwest is built without a provider of its own, so one must be installed
//! before its first client; every place that builds one calls [`ensure_provider`], and trusts
//! [`mozilla_roots`] beside the platform's (the slim image has no CA bundle).

/// Installs ring as the process's rustls provider, unless one is installed already.
pub fn ensure_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have won the race: its provider is the same one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Mozilla's root certificates (DER), compiled in.
pub fn mozilla_roots() -> impl Iterator<Item = &'static [u8]> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| c.as_ref())
}
