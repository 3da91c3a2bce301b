#!/bin/sh
# Restores a base backup and replays the WAL archive into a new data directory, then leaves it
# ready to start (`pg_ctl -D DATADIR start`): PostgreSQL replays up to the end of the archive,
# or to TARGET_TIME when given, and then opens for writes.
#   restore.sh BASE_BACKUP_DIR WAL_ARCHIVE_DIR NEW_DATADIR [TARGET_TIME, e.g. '2026-12-06 03:00:00+08']
# Runs as the postgres user. NEW_DATADIR must not exist. The restored cluster keeps the
# original's settings; start it on another port first to check it (docs: deploy/README.md,
# Backups).
set -eu
base=$1
wal=$2
datadir=$3
target_time=${4:-}
[ -e "$datadir" ] && { echo "restore: $datadir exists; restore into a new directory" >&2; exit 1; }
mkdir -p "$datadir"
chmod 700 "$datadir"
tar -xzf "$base/base.tar.gz" -C "$datadir"
# Tablespaces other than the default would be further tar files; Regio creates none.
[ -f "$base/pg_wal.tar.gz" ] && tar -xzf "$base/pg_wal.tar.gz" -C "$datadir/pg_wal"
wal_dir=$(cd "$wal" && pwd)
{
    echo "# Added by restore.sh"
    echo "restore_command = 'cp \"$wal_dir/%f\" \"%p\"'"
    # No connections until the whole archive is replayed: nobody reads a half-restored database,
    # and `pg_ctl -w start` returns when it is done.
    echo "hot_standby = off"
    if [ -n "$target_time" ]; then
        echo "recovery_target_time = '$target_time'"
        echo "recovery_target_action = 'promote'"
    fi
} >> "$datadir/postgresql.auto.conf"
touch "$datadir/recovery.signal"
echo "restored into $datadir; start it with: pg_ctl -D $datadir start"
