import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RelayError } from '../errors';
import { formatLsn } from '../replication/lsn';
import type { RelayMetrics } from './metrics';
import type { RelayState } from './state';

/** The JSON document served at `/`. */
export function statusDocument(state: RelayState, version: string): Record<string, unknown> {
  const readiness = state.readiness();
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    version,
    role: state.role,
    ready: readiness.ready,
    reason: readiness.reason,
    slot: state.slotName,
    publication: state.publicationName,
    delivery: state.delivery,
    producePath: state.producePath,
    confirmedLsn: state.confirmedLsn === undefined ? null : formatLsn(state.confirmedLsn),
    lagBytes: state.slot?.lagBytes ?? null,
    retainedWalBytes: state.slot?.retainedBytes ?? null,
    walStatus: state.slot?.walStatus ?? null,
    safeWalBytes: state.slot?.safeWalBytes ?? null,
    walRetentionWarning: state.walRetentionWarning,
    slotGap: state.slotGap ?? null,
    inFlight: state.session?.inFlight ?? { events: 0, bytes: 0 },
    eventsPublished: state.eventsPublished,
    lastEventCommitTime: iso(state.lastEventCommitMs),
    lastAckTime: iso(state.lastAckAt),
    heartbeatRttMs: state.heartbeatRttMs ?? null,
    lastHeartbeatTime: iso(state.lastHeartbeatAt),
    kafkaReachable: state.kafkaReachable,
    lastError:
      state.lastError === undefined
        ? null
        : { ...state.lastError, at: new Date(state.lastError.at).toISOString() },
    startedAt: new Date(state.startedAt).toISOString(),
  };
}

/**
 * `/healthz` (the process answers), `/readyz` (streaming, Kafka reachable, no stall), `/metrics`
 * (Prometheus text) and `/` (JSON status). Read-only; nothing here can change the relay.
 */
export class HttpEndpoint {
  private constructor(private readonly server: Server) {}

  static async listen(
    host: string,
    port: number,
    state: RelayState,
    metrics: RelayMetrics,
    version: string,
  ): Promise<HttpEndpoint> {
    const server = createServer((req, res) => {
      void handle(req, res, state, metrics, version);
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new RelayError(
            'HTTP_LISTEN',
            `cannot listen on ${host}:${port} for HTTP (${err.code ?? err.message}); set HTTP_PORT / HTTP_HOST`,
            { cause: err },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    return new HttpEndpoint(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  state: RelayState,
  metrics: RelayMetrics,
  version: string,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'text/plain', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
  }
  switch (path) {
    case '/healthz':
      return send(res, 200, 'text/plain', 'ok\n');
    case '/readyz': {
      const { ready, reason } = state.readiness();
      return send(res, ready ? 200 : 503, 'text/plain', `${reason}\n`);
    }
    case '/metrics':
      try {
        const text = await metrics.registry.metrics();
        return send(res, 200, metrics.registry.contentType, text);
      } catch (err) {
        return send(res, 500, 'text/plain', `metrics failed: ${(err as Error).message}\n`);
      }
    case '/':
      return send(
        res,
        200,
        'application/json',
        `${JSON.stringify(statusDocument(state, version), null, 2)}\n`,
      );
    default:
      return send(res, 404, 'text/plain', 'not found: try /healthz, /readyz, /metrics or /\n');
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
