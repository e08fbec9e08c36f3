# PostgreSQL from Debian's packages, behaving like the official image for what compose uses:
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the first role and database on an
# empty data volume, *.sql and *.sh in /docker-entrypoint-initdb.d run once then, and the
# server listens on every address with password (SCRAM) authentication.
ARG DEBIAN_IMAGE=imprint-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# No cluster at install time: the entrypoint makes one in the volume.
# Bookworm's versions, unpinned: the suite fixes the major versions, and a rebuild takes its
# security updates.
# hadolint ignore=DL3008
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres /var/run/postgresql /docker-entrypoint-initdb.d
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD ["bash", "-c", "pg_isready -q -U \"${POSTGRES_USER:-postgres}\""]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
