# RabbitMQ from Debian's packages, behaving like the official image for what compose uses:
# RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS make the first user on an empty volume
# (/var/lib/rabbitmq), which may connect from other hosts; the node runs in the foreground.
ARG DEBIAN_IMAGE=imprint-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# Bookworm's versions, unpinned: the suite fixes the major versions, and a rebuild takes its
# security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o rabbitmq -g rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
# Root (docker exec, the health check) and the node share one Erlang cookie.
ENV HOME=/var/lib/rabbitmq \
    RABBITMQ_LOGS=- \
    RABBITMQ_NODENAME=rabbit@localhost
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/rabbitmq
EXPOSE 5672
HEALTHCHECK --interval=5s --timeout=5s --retries=30 CMD ["rabbitmq-diagnostics", "-q", "ping"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
