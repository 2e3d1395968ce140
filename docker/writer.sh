#!/bin/sh
# The demo writer: one business transaction per second, each with its outbox row, across
# 20 members, so kafka-ui shows events arriving in outbox.event.member keyed by member id.
set -eu
n=0
while :; do
  n=$((n + 1))
  member=$((n % 20))
  psql -v ON_ERROR_STOP=1 -q -c "
    BEGIN;
    INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
    VALUES (gen_random_uuid(), 'member', 'member-$member',
            CASE WHEN $n <= 20 THEN 'MemberCreated' ELSE 'MemberUpdated' END,
            jsonb_build_object('memberId', 'member-$member', 'visit', $n, 'at', now()));
    COMMIT;"
  sleep 1
done
