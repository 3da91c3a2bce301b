#!/bin/sh
# A base backup of the whole cluster into BACKUPS/base/<UTC time>/ (tar, compressed, with its
# backup manifest), as the nightly timer (deploy/systemd/regio-backup.timer) runs it after the
# hospitals' uploads. Together with the WAL archive (archive-wal.sh) it restores the database to
# any moment after it (restore.sh).
#   base-backup.sh BACKUPS [pg_basebackup connection options, e.g. -h 127.0.0.1 -p 5432 -U regio_backup]
# Runs as the postgres user (or any user that may write BACKUPS). Keeps the newest KEEP (default
# 7) base backups; WAL older than the oldest kept one may then be removed (pg_archivecleanup).
set -eu
backups=$1
shift
keep=${KEEP:-7}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$backups/base/$stamp"
mkdir -p "$backups/base"
pg_basebackup "$@" --pgdata="$target.part" --format=tar --gzip --wal-method=none --checkpoint=fast \
    --label="regio $stamp" --no-password
mv "$target.part" "$target"
pg_verifybackup --no-parse-wal "$target" >/dev/null 2>&1 || {
    # pg_verifybackup reads plain-format backups only before PostgreSQL 16: check the manifest is there.
    [ -f "$target/backup_manifest" ] || { echo "base-backup: $target has no backup manifest" >&2; exit 1; }
}
echo "$target"
# Keep the newest $keep base backups.
ls -1d "$backups"/base/*Z 2>/dev/null | sort | head -n -"$keep" | while read -r old; do rm -rf "$old"; done
