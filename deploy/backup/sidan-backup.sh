#!/usr/bin/env bash
# Nightly PostgreSQL dump (custom format), kept 14 days; run by sidan-backup.timer.
# Restore: see docs/operations.md ("Backups").
set -euo pipefail
: "${DATABASE_URL:?}"
dir=${BACKUP_DIR:-/var/backups/sidan}
keep_days=${BACKUP_KEEP_DAYS:-14}
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# pg_dump needs a session: go to PostgreSQL directly, not through PgBouncer's transaction pool.
url=${BACKUP_DATABASE_URL:-$DATABASE_URL}
pg_dump --format=custom --no-owner --file="$dir/sidan-$stamp.dump" "$url"
pg_restore --list "$dir/sidan-$stamp.dump" > /dev/null   # the dump reads back
tar -czf "$dir/media-$stamp.tar.gz" -C "${MEDIA_ROOT:-/var/lib/sidan/media}" .
find "$dir" -name 'sidan-*.dump' -mtime "+$keep_days" -delete
find "$dir" -name 'media-*.tar.gz' -mtime "+$keep_days" -delete
echo "backup written: $dir/sidan-$stamp.dump"
