#!/bin/sh
# PostgreSQL's archive_command: copies one finished WAL segment into the archive, never
# overwriting one already there (unless it is the same file), and syncs it to disk before
# PostgreSQL may recycle the segment.
#   archive_command = '/opt/regio/deploy/backup/archive-wal.sh %p /var/backups/regio/wal/%f'
# Runs as the postgres user; exits non-zero on any failure, so PostgreSQL keeps the segment and
# tries again.
set -eu
source_path=$1
target=$2
if [ -f "$target" ]; then
    # Archived before (a retry after a crash): fine when it is the same file, an error otherwise.
    cmp -s "$source_path" "$target" && exit 0
    echo "archive-wal: $target exists with other content" >&2
    exit 1
fi
mkdir -p "$(dirname "$target")"
cp "$source_path" "$target.part"
sync "$target.part" 2>/dev/null || sync
mv "$target.part" "$target"
