#!/bin/bash
# Writes the default user from the environment into rabbitmq.conf, then runs the node as the
# rabbitmq user.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
  {
    echo "listeners.tcp.default = 5672"
    echo "loopback_users = none"
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
      echo "default_user = ${RABBITMQ_DEFAULT_USER}"
      echo "default_pass = ${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS must be set with RABBITMQ_DEFAULT_USER}"
    fi
  } >/etc/rabbitmq/rabbitmq.conf
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi
exec "$@"
