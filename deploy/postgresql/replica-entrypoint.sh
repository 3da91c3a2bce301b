#!/bin/bash
# Entrypoint of the compose service postgres-replica (postgres:15 image).
# On first start (empty data directory) it clones the primary with pg_basebackup:
#   -X stream  copy the WAL written during the backup, so the clone is consistent
#   -S SLOT    use the slot made by init-replication.sh (the primary keeps WAL for us)
#   -R         write standby.signal and primary_conninfo (including the replication
#              password) into postgresql.auto.conf in the replica's volume
# then hands over to the image's entrypoint, which sees an existing data directory and starts
# postgres as a hot standby with the command given in compose.yaml.
# To re-clone: docker compose rm -sf postgres-replica && docker volume rm regio_pg-replica.
set -Eeo pipefail

: "${REGIO_REPLICATION_PASSWORD:?REGIO_REPLICATION_PASSWORD is not set}"
primary_host=${REGIO_PRIMARY_HOST:-postgres}
primary_port=${REGIO_PRIMARY_PORT:-5432}
replication_user=${REGIO_REPLICATION_USER:-replicator}
slot=${REGIO_REPLICATION_SLOT:-regio_replica}
PGDATA=${PGDATA:-/var/lib/postgresql/data}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then gosu postgres "$@"; else "$@"; fi
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDATA"; fi
    chmod 0700 "$PGDATA"

    until pg_isready -q -h "$primary_host" -p "$primary_port"; do
        echo "replica: waiting for primary at $primary_host:$primary_port" >&2
        sleep 2
    done

    echo "replica: cloning $primary_host:$primary_port (slot $slot)" >&2
    PGPASSWORD=$REGIO_REPLICATION_PASSWORD as_postgres pg_basebackup \
        --pgdata="$PGDATA" --host="$primary_host" --port="$primary_port" \
        --username="$replication_user" --no-password \
        --wal-method=stream --slot="$slot" --write-recovery-conf --checkpoint=fast
    echo "replica: clone complete" >&2
fi

exec docker-entrypoint.sh "$@"
