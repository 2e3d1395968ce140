import { customOption, intOption } from './option';

function parseHost(raw: string): string {
  const value = raw.trim();
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(value)) {
    throw new Error(
      `must be an address or host name to listen on (e.g. 0.0.0.0, ::, 127.0.0.1), got "${raw}"`,
    );
  }
  return value;
}

/** Health, metrics, heartbeats and WAL retention: what an operator watches. */
export const OPERATIONS_OPTIONS = {
  httpPort: intOption({
    env: 'HTTP_PORT',
    group: 'Operations',
    description:
      'Port of the HTTP endpoint: `/healthz`, `/readyz`, `/metrics` (Prometheus), `/` (JSON status). `0` picks a free port (logged at start-up).',
    default: 9400,
    min: 0,
    max: 65_535,
  }),
  httpHost: customOption({
    env: 'HTTP_HOST',
    group: 'Operations',
    description:
      'Address the HTTP endpoint listens on; `127.0.0.1` keeps it on the machine. It serves no secrets.',
    parse: parseHost,
    default: '0.0.0.0',
  }),
  heartbeatIntervalMs: intOption({
    env: 'HEARTBEAT_INTERVAL_MS',
    group: 'Operations',
    description:
      "Every interval the relay writes a tiny non-transactional logical decoding message (`pg_logical_emit_message`) and times its way back through its own stream (`outbox_relay_heartbeat_rtt_seconds`); it also samples the slot's lag and retained WAL. The WAL it writes lets the slot advance on a database whose outbox is idle.",
    default: 10_000,
    min: 100,
    max: 3_600_000,
  }),
  heartbeatTimeoutMs: intOption({
    env: 'HEARTBEAT_TIMEOUT_MS',
    group: 'Operations',
    description:
      'A stall: no heartbeat back and nothing at all received from the stream (while not paused for back-pressure) for this long. The relay logs an error, reports not ready, and reconnects.',
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
  }),
  walRetentionWarnBytes: intOption({
    env: 'WAL_RETENTION_WARN_BYTES',
    group: 'Operations',
    description:
      "Warn (log, `/` status, `outbox_relay_slot_retained_wal_bytes`) when the WAL the slot retains exceeds this many bytes. Protect the disk for good with the server's `max_slot_wal_keep_size`.",
    default: 1024 * 1024 * 1024,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  }),
};
