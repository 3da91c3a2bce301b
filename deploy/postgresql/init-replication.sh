#!/bin/bash
# Compose stack only: runs once, on the primary's first start (mounted into
# /docker-entrypoint-initdb.d as 20-replication.sh), as the superuser.
# Sets up what the postgres-replica service needs to clone and follow the primary:
#   - role `replicator` (LOGIN REPLICATION, password REGIO_REPLICATION_PASSWORD), used by
#     pg_basebackup and then by the replica's WAL receiver;
#   - physical replication slot REGIO_REPLICATION_SLOT (default regio_replica), so the primary
#     keeps WAL the replica has not received yet (bounded by max_slot_wal_keep_size);
#   - a pg_hba.conf line admitting replication connections from the compose network
#     ("all" in the database column does not cover replication connections).
# To add a replica by hand elsewhere: same role, a slot per replica, a pg_hba.conf line for its
# address, then on the replica host:
#   pg_basebackup -h PRIMARY -U replicator -D DATADIR -X stream -S SLOT -R -c fast
# No `set -u`: the image's entrypoint sources non-executable scripts into its own shell.
set -e

: "${REGIO_REPLICATION_PASSWORD:?REGIO_REPLICATION_PASSWORD is not set}"
: "${PGDATA:?PGDATA is not set}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set pw="$REGIO_REPLICATION_PASSWORD" \
    --set slot="${REGIO_REPLICATION_SLOT:-regio_replica}" <<'SQL'
CREATE ROLE replicator WITH LOGIN REPLICATION PASSWORD :'pw';
-- true: reserve WAL from now on, before the replica first connects.
SELECT pg_create_physical_replication_slot(:'slot', true);
SQL

# samenet: any address in a subnet this server is attached to (the compose network).
echo "host replication replicator samenet scram-sha-256" >> "$PGDATA/pg_hba.conf"
