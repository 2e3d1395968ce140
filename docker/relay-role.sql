-- Runs once when the compose file's PostgreSQL initialises (after outbox.sql), as the database
-- owner: a least-privilege role for the relay, and the publication (which only the table's owner
-- may create). The relay creates its replication slot itself on first start.
CREATE ROLE outbox_relay WITH LOGIN REPLICATION PASSWORD 'relay-password';
GRANT SELECT ON public.outbox TO outbox_relay;
CREATE PUBLICATION outbox_relay FOR TABLE public.outbox WITH (publish = 'insert');
