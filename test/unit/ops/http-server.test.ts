import { HttpEndpoint } from '../../../src/ops/http-server';
import { RelayMetrics } from '../../../src/ops/metrics';
import { RelayState } from '../../../src/ops/state';

describe('HttpEndpoint', () => {
  let state: RelayState;
  let http: HttpEndpoint;
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, {
      method,
      headers: { connection: 'close' },
    });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };

  beforeEach(async () => {
    state = new RelayState('slot_a', 'pub_a');
    http = await HttpEndpoint.listen('127.0.0.1', 0, state, new RelayMetrics(state), '1.2.3');
  });
  afterEach(() => http.close());

  it('is healthy from the start but ready only while streaming with Kafka reachable', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'starting\n' });
    state.role = 'active';
    state.session = { confirmed: 0x16b3748n, inFlight: { events: 3, bytes: 900 } };
    state.kafkaReachable = true;
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'streaming\n' });
    state.kafkaFailing = () => true;
    expect((await get('/readyz')).status).toBe(503);
    state.kafkaFailing = () => false;
    state.stalled = true;
    expect((await get('/readyz')).body).toMatch(/stalled/);
    state.stalled = false;
    state.role = 'standby';
    const standby = await get('/readyz');
    expect(standby.status).toBe(503);
    expect(standby.body).toMatch(/^standby: slot slot_a is held by another instance/);
  });

  it('serves the JSON status and Prometheus metrics', async () => {
    state.role = 'active';
    state.session = { confirmed: 0x16b3748n, inFlight: { events: 3, bytes: 900 } };
    state.kafkaReachable = true;
    state.slot = {
      lagBytes: 120,
      retainedBytes: 4096,
      walStatus: 'reserved',
      safeWalBytes: null,
      at: 0,
    };
    state.recordError('KAFKA_SEND', 'Kafka send failed: boom');
    const status = await get('/');
    expect(status.type).toBe('application/json');
    expect(JSON.parse(status.body)).toMatchObject({
      version: '1.2.3',
      role: 'active',
      ready: true,
      slot: 'slot_a',
      publication: 'pub_a',
      confirmedLsn: '0/16B3748',
      lagBytes: 120,
      retainedWalBytes: 4096,
      walStatus: 'reserved',
      inFlight: { events: 3, bytes: 900 },
      lastError: { code: 'KAFKA_SEND', message: 'Kafka send failed: boom' },
    });
    const metrics = await get('/metrics');
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toContain('outbox_relay_replication_lag_bytes 120');
    expect(metrics.body).toContain('outbox_relay_in_flight_events 3');
    expect(metrics.body).toContain('outbox_relay_confirmed_lsn 23803720');
    expect(metrics.body).toContain('outbox_relay_role{role="active"} 1');
    expect(metrics.body).toContain('outbox_relay_slot_wal_status{status="reserved"} 1');
    expect(metrics.body).toContain('outbox_relay_process_cpu_seconds_total');
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    expect((await get('/admin')).status).toBe(404);
    expect((await get('/readyz', 'POST')).status).toBe(405);
    expect(await get('/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('fails with a clear error when the port is taken', async () => {
    const error = await HttpEndpoint.listen(
      '127.0.0.1',
      http.port,
      state,
      new RelayMetrics(state),
      'x',
    ).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );
    expect(error?.code).toBe('HTTP_LISTEN');
    expect(error?.message).toMatch(/EADDRINUSE/);
  });
});
