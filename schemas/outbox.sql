-- outbox-relay: the default outbox table, in Debezium's outbox layout, so a team can switch
-- between Debezium's Outbox Event Router and outbox-relay without touching writers or consumers.
--
-- Write one row per domain event in the same transaction as the business change. The relay reads
-- inserts from the WAL, so the row can be deleted again in the same transaction to keep the table
-- empty; it never queries this table.
--
-- On first start the relay creates the publication (inserts into this table only) and the
-- logical replication slot (pgoutput) if they do not exist yet. This file is idempotent.

CREATE TABLE IF NOT EXISTS public.outbox (
  id            uuid  PRIMARY KEY,   -- event id; Kafka header "id"; consumers drop duplicates by it
  aggregatetype text  NOT NULL,      -- routes the topic: outbox.event.<aggregatetype>
  aggregateid   text  NOT NULL,      -- Kafka key: one aggregate's events stay in one partition, in order
  type          text  NOT NULL,      -- event type; Kafka header "type"
  payload       jsonb                -- the event body; the Kafka record value (NULL: tombstone)
  -- Optional columns (add them as needed; they may be added or dropped while the relay runs):
  -- , occurred_at    timestamptz NOT NULL DEFAULT now()  -- OUTBOX_COLUMN_TIMESTAMP=occurred_at
  -- , correlation_id text   -- OUTBOX_HEADER_COLUMNS=correlation_id:correlationId
  -- , causation_id   text   -- OUTBOX_HEADER_COLUMNS=...,causation_id:causationId
  -- , traceparent    text   -- W3C trace context, always propagated as header "traceparent"
  -- , tracestate     text   -- and "tracestate"
);

-- Table-less outbox (OUTBOX_MESSAGE_PREFIX=outbox): instead of a row, write a transactional
-- logical decoding message; it is atomic with the surrounding transaction like a row, and leaves
-- nothing behind in any table. Returns the message's LSN. Without an id, the relay derives a
-- stable one from the message's position in the WAL (the same on every redelivery).
--   SELECT outbox_emit('member', 'member-7', 'MemberUpdated', '{"tier": "gold"}');
CREATE OR REPLACE FUNCTION public.outbox_emit(
  aggregate_type text,
  aggregate_id   text,
  event_type     text,
  payload        jsonb,
  headers        jsonb DEFAULT NULL,
  event_id       uuid  DEFAULT NULL,
  prefix         text  DEFAULT 'outbox'
) RETURNS pg_lsn
LANGUAGE sql VOLATILE AS $$
  SELECT pg_logical_emit_message(
    true,
    prefix,
    jsonb_build_object(
      'id', event_id, 'aggregateType', aggregate_type, 'aggregateId', aggregate_id,
      'type', event_type, 'payload', payload, 'headers', headers
    )::text
  )
$$;

-- A least-privilege role for the relay (run as a superuser; choose your own password):
--   CREATE ROLE outbox_relay WITH LOGIN REPLICATION PASSWORD '...';
--   GRANT SELECT ON public.outbox TO outbox_relay;
-- The relay creates the publication itself only if it may (it must own the table); otherwise
-- create it once as the table owner:
--   CREATE PUBLICATION outbox_relay FOR TABLE public.outbox WITH (publish = 'insert');
