#!/bin/bash
# Compose stack only: runs once, on the primary's first start (mounted into
# /docker-entrypoint-initdb.d as 10-roles.sh), as the superuser, before init-replication.sh.
# Creates the Regio roles and database. deploy/README.md has the same SQL for a server you
# manage by hand.
#   regio        owner: runs the migrations, owns every table
#   regio_ingest        the ingestion service, granted by the migrations (owns nothing)
#   regio_query         read-only: the query service's reports
#   regio_query_writer  the query service's writes (thresholds, stewards' decisions), granted by the migrations
#   regio_lookup        the query service's cross-facility lookups, granted by the migrations
#   regio_web           the query service's accounts and sessions, granted by the migrations
# Needs REGIO_DB_PASSWORD, REGIO_INGEST_DB_PASSWORD, REGIO_QUERY_DB_PASSWORD, REGIO_QUERY_WRITER_DB_PASSWORD and
# REGIO_LOOKUP_DB_PASSWORD and REGIO_WEB_DB_PASSWORD (from deploy/.env).
# No `set -u`: the image's entrypoint sources non-executable scripts into its own shell.
set -e

: "${REGIO_DB_PASSWORD:?REGIO_DB_PASSWORD is not set}"
: "${REGIO_INGEST_DB_PASSWORD:?REGIO_INGEST_DB_PASSWORD is not set}"
: "${REGIO_QUERY_DB_PASSWORD:?REGIO_QUERY_DB_PASSWORD is not set}"
: "${REGIO_QUERY_WRITER_DB_PASSWORD:?REGIO_QUERY_WRITER_DB_PASSWORD is not set}"
: "${REGIO_LOOKUP_DB_PASSWORD:?REGIO_LOOKUP_DB_PASSWORD is not set}"
: "${REGIO_WEB_DB_PASSWORD:?REGIO_WEB_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set owner_pw="$REGIO_DB_PASSWORD" --set ingest_pw="$REGIO_INGEST_DB_PASSWORD" --set query_pw="$REGIO_QUERY_DB_PASSWORD" \
    --set writer_pw="$REGIO_QUERY_WRITER_DB_PASSWORD" --set lookup_pw="$REGIO_LOOKUP_DB_PASSWORD" \
    --set web_pw="$REGIO_WEB_DB_PASSWORD" <<'SQL'
CREATE ROLE regio LOGIN PASSWORD :'owner_pw';
-- Owns nothing; `regio migrate` grants it what the ingest path needs (migration 0022).
CREATE ROLE regio_ingest LOGIN PASSWORD :'ingest_pw';
CREATE ROLE regio_query LOGIN PASSWORD :'query_pw';
-- Owns nothing; `regio migrate` grants it what the query service writes (migration 0014).
CREATE ROLE regio_query_writer LOGIN PASSWORD :'writer_pw';
-- Owns nothing; `regio migrate` grants it what the lookups read and audit (migration 0017).
CREATE ROLE regio_lookup LOGIN PASSWORD :'lookup_pw';
-- Owns nothing; `regio migrate` grants it the accounts and sessions (migration 0019).
CREATE ROLE regio_web LOGIN PASSWORD :'web_pw';
-- Text compares byte by byte: Regio's text keys are identifiers, codes and hashes (deploy/README.md).
CREATE DATABASE regio OWNER regio LC_COLLATE 'C' TEMPLATE template0;
REVOKE ALL ON DATABASE regio FROM PUBLIC;
GRANT CONNECT ON DATABASE regio TO regio_ingest, regio_query, regio_query_writer, regio_lookup, regio_web;
-- Report queries are short; stop runaway ones and abandoned transactions.
ALTER ROLE regio_query SET statement_timeout = '60s';
ALTER ROLE regio_query SET idle_in_transaction_session_timeout = '5min';

\connect regio
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
-- Schemas and tables are created later by `regio migrate` (as regio); let regio_query read
-- them. Row-level security policies, if any, still apply to regio_query.
ALTER DEFAULT PRIVILEGES FOR ROLE regio GRANT USAGE ON SCHEMAS TO regio_query;
ALTER DEFAULT PRIVILEGES FOR ROLE regio GRANT SELECT ON TABLES TO regio_query;
SQL
