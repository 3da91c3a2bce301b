-- The query service writes what its users change (thresholds; sign-in and audit later) through a
-- connection of its own to the primary (REGIO_QUERY_WRITE_DATABASE_URL), as the login role
-- `regio_query_writer` (deploy/), which may write only that. Its reports read as `regio_query`,
-- which may write nothing.
--
-- Roles belong to the cluster, and whoever sets it up creates them (deploy/postgresql/init-roles.sh):
-- this grants what each needs when it exists. The migration runner calls it after every run, so a
-- role created after the migrations gets its grants at the next `regio migrate` or start.
CREATE FUNCTION registry.grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query_writer') THEN
        GRANT USAGE ON SCHEMA reports, audit TO regio_query_writer;
        -- Thresholds: read and change the value and comparator of an existing row, nothing else.
        GRANT SELECT ON reports.thresholds TO regio_query_writer;
        GRANT UPDATE (threshold, comparator, updated_at) ON reports.thresholds TO regio_query_writer;
        GRANT INSERT ON audit.events TO regio_query_writer;
    END IF;
END
$$;
SELECT registry.grant_service_roles();
