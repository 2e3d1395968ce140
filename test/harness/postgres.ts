import {
  chownSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from './errors';
import { reapOnExit, run, tail } from './exec';
import { freePort } from './ports';
import { findPgBinDir, unprivilegedUser, type UnprivilegedUser } from './prerequisites';

/** `fast` rolls back sessions and checkpoints; `immediate` is a crash (recovery runs on start). */
export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PostgresOptions {
  /** Extra postgresql.conf settings, applied on top of the harness defaults. */
  settings?: Record<string, string | number>;
}

const PORT_ATTEMPTS = 5;
const PG_CTL_TIMEOUT_S = 60;

/**
 * Settings every test cluster gets. Logical decoding needs wal_level=logical; parallel tests each
 * hold a replication connection and a slot, so leave generous room. fsync is off because the
 * machine never crashes under a test; an `immediate` stop still exercises crash recovery from WAL.
 */
const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: "'127.0.0.1'",
  wal_level: 'logical',
  max_wal_senders: 64,
  max_replication_slots: 64,
  max_connections: 200,
  fsync: 'off',
  log_min_messages: 'warning',
  log_line_prefix: "'%m [%p] '",
};

/**
 * A throw-away PostgreSQL cluster: initdb into a temp dir, started on a free 127.0.0.1 port with
 * its socket in the same dir, stopped and removed by `destroy()` (or by the reaper if we die).
 */
export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly binDir: string,
    private readonly user: UnprivilegedUser | undefined,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The superuser connection through the cluster's Unix socket (libpq's form: no host). */
  get socketUrl(): string {
    return `postgres://postgres@/postgres?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'postgres.log');
  }

  /** Superuser connection string (trust auth, loopback only). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(options: PostgresOptions = {}): Promise<PostgresServer> {
    const binDir = findPgBinDir();
    const user = unprivilegedUser();
    const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-pg-'));
    try {
      if (user !== undefined) chownSync(dir, user.uid, user.gid);
      await initdb(binDir, user, dir);
      const settings = {
        ...DEFAULT_SETTINGS,
        unix_socket_directories: `'${dir}'`,
        ...options.settings,
      };
      const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
      appendFileSync(
        join(dir, 'data', 'postgresql.conf'),
        `\n# outbox-relay test harness\n${conf.join('\n')}\ninclude_if_exists = 'harness-port.conf'\n`,
      );
      for (let attempt = 1; ; attempt++) {
        const server = new PostgresServer(dir, await freePort(), binDir, user);
        writeFileSync(join(server.dataDir, 'harness-port.conf'), `port = ${server.port}\n`);
        if (user !== undefined)
          chownSync(join(server.dataDir, 'harness-port.conf'), user.uid, user.gid);
        const started = await server.pgCtlStart();
        if (started.ok) return server;
        if (!started.portTaken || attempt >= PORT_ATTEMPTS) throw started.error;
      }
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts the cluster again after `stop()`, on the same port. */
  async start(): Promise<void> {
    // The port was ours until the stop; if something grabbed it meanwhile, wait a little for it.
    for (let attempt = 1; ; attempt++) {
      const started = await this.pgCtlStart();
      if (started.ok) return;
      if (!started.portTaken || attempt >= PORT_ATTEMPTS) throw started.error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Stops the cluster, keeping its data. */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    const result = await this.pgCtl(['stop', '-m', mode]);
    if (result.code !== 0 && !/Is server running\?/.test(result.stderr)) {
      throw new HarnessError(`pg_ctl stop -m ${mode} failed:\n${tail(result.stderr)}`);
    }
  }

  /** Stops (`fast` = clean, `immediate` = crash) and starts again on the same port. */
  async restart(mode: StopMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Stops the cluster if it runs and removes all its files. */
  async destroy(): Promise<void> {
    try {
      await this.stop('fast');
    } catch {
      await this.stop('immediate').catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Pid of the running postmaster, read from its pid file. */
  postmasterPid(): number {
    const first = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    return Number(first);
  }

  private pgCtl(args: string[]) {
    return run(
      join(this.binDir, 'pg_ctl'),
      [...args, '-D', this.dataDir, '-w', '-t', String(PG_CTL_TIMEOUT_S)],
      { user: this.user?.name, timeoutMs: (PG_CTL_TIMEOUT_S + 10) * 1000 },
    );
  }

  private async pgCtlStart(): Promise<
    { ok: true } | { ok: false; portTaken: boolean; error: HarnessError }
  > {
    const result = await this.pgCtl(['start', '-l', this.logFile]);
    if (result.code === 0) {
      reapOnExit(this.postmasterPid(), this.dir, 'INT');
      return { ok: true };
    }
    let log = '';
    try {
      log = readFileSync(this.logFile, 'utf8');
    } catch {
      // no log yet: pg_ctl's own output says why
    }
    const portTaken = /could not (bind|create listen socket)|Address already in use/i.test(log);
    const error = new HarnessError(
      `PostgreSQL did not start on 127.0.0.1:${this.port}:\n${tail(`${result.stderr}\n${log}`)}`,
    );
    return { ok: false, portTaken, error };
  }
}

async function initdb(binDir: string, user: UnprivilegedUser | undefined, dir: string) {
  const result = await run(
    join(binDir, 'initdb'),
    [
      '-D',
      join(dir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ],
    { user: user?.name, timeoutMs: 120_000 },
  );
  if (result.code !== 0) {
    throw new HarnessError(
      `initdb failed (exit ${result.code}):\n${tail(result.stderr || result.stdout)}`,
      user === undefined
        ? undefined
        : `it ran as user ${user.name}; check that user can write ${dir}`,
    );
  }
}
