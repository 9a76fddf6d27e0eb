#!/bin/sh
# Sets up and upgrades Temporal's PostgreSQL schemas with the admin-tools image
# of the server's own version (docker-compose.yml, service temporal-schema).
# Safe to run at every start: setup-schema leaves a schema that is already
# versioned alone, and update-schema applies only the versions above the one
# recorded. The databases exist already (deploy/postgres-init.sh).
set -eu
export SQL_PASSWORD="$POSTGRES_PWD"
sql() { temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"; }
for store in temporal visibility; do
  db=temporal
  [ "$store" = visibility ] && db=temporal_visibility
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$store/versioned"
done
echo "Temporal schemas are up to date"
