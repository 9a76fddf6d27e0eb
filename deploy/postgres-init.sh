#!/bin/sh
# Runs once, when PostgreSQL's data volume is new (docker-entrypoint-initdb.d).
# Temporal's main database (`temporal`) is the image's own POSTGRES_USER
# database; its visibility database and Warden's system of record (database
# and role `warden`, password from WARDEN_DB_PASSWORD) are created here.
# The password is passed as a psql variable, so it is quoted as a literal and
# never spliced into the SQL text.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v warden_password="$WARDEN_DB_PASSWORD" <<'SQL'
CREATE DATABASE temporal_visibility;
CREATE ROLE warden LOGIN PASSWORD :'warden_password';
CREATE DATABASE warden OWNER warden;
SQL
