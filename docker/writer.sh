#!/bin/sh
# The demo writer: one business transaction per second, each with its outbox row, across
# 20 members, so kafka-ui shows events arriving in outbox.event.member keyed by member id.
# Payloads fit schemas/avro (MemberCreated, MemberUpdated), so the Avro variant takes them too.
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
            CASE WHEN $n <= 20
              THEN jsonb_build_object('id', 'member-$member', 'name', 'Member $member',
                                      'tier', 'basic', 'age', null)
              ELSE jsonb_build_object('id', 'member-$member', 'version', $n,
                                      'tier', CASE WHEN $n % 3 = 0 THEN 'gold' ELSE 'basic' END)
            END);
    COMMIT;"
  sleep 1
done
