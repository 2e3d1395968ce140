-- outbox-relay: the default outbox table, in Debezium's outbox layout, so a team can switch
-- between Debezium's Outbox Event Router and outbox-relay without touching writers or consumers.
--
-- Write one row per domain event in the same transaction as the business change. The relay reads
-- inserts from the WAL, so the row can be deleted again in the same transaction to keep the table
-- empty; it never queries this table.
--
-- On first start the relay creates the publication (inserts into this table only) and the
-- logical replication slot (pgoutput) if they do not exist yet.

CREATE TABLE IF NOT EXISTS public.outbox (
  id            uuid  PRIMARY KEY,   -- event id; Kafka header "id"; consumers drop duplicates by it
  aggregatetype text  NOT NULL,      -- routes the topic: outbox.event.<aggregatetype>
  aggregateid   text  NOT NULL,      -- Kafka key: one aggregate's events stay in one partition, in order
  type          text  NOT NULL,      -- event type; Kafka header "type"
  payload       jsonb                -- the event body; the Kafka record value
);
