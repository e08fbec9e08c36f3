# The build stage's base when no registry is reachable: Debian's compiler and C library on the
# local slim base, the Rust toolchain this machine's rustup installed, and the certificate
# authorities this machine trusts (a TLS-inspecting proxy between it and crates.io included), all
# copied in by scripts/images (the context is that toolchain without its documentation, and the
# machine's CA bundle).
ARG DEBIAN_IMAGE=imprint-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# Bookworm's versions, unpinned: the suite fixes the major versions, and a rebuild takes its
# security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev binutils \
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY toolchain /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo \
    CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt \
    PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
