import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from './errors';
import { reapOnExit, run, tail } from './exec';
import { cacheDir } from './kafka-jars';
import { freePort } from './ports';

/** Apicurio Registry: the last release that runs on Java 17, with a Confluent-compatible API. */
export const APICURIO_VERSION = '3.0.9';
const ARTIFACT = `io/apicurio/apicurio-registry-app/${APICURIO_VERSION}/apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`;
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * The Apicurio distribution (`io.apicurio:apicurio-registry-app:3.0.9:tar.gz:all`), downloaded
 * once from Maven Central into the cache and checked against its published SHA-1. Fetched over
 * HTTPS rather than with Maven: its parent POM (`io.apicurio:apicurio-registry:3.0.9`) is not on
 * Central, so Maven refuses to resolve the artefact. `OUTBOX_TEST_MAVEN_REPO` names a mirror.
 */
export async function ensureApicurio(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const home = join(cacheDir(env), `apicurio-registry-${APICURIO_VERSION}`);
  const jar = join(home, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
  if (existsSync(join(home, 'complete'))) return jar;
  const repo = (env.OUTBOX_TEST_MAVEN_REPO ?? 'https://repo.maven.apache.org/maven2').replace(
    /\/$/,
    '',
  );
  const fetchBytes = async (url: string): Promise<Buffer> => {
    const response = await fetch(url);
    if (!response.ok) throw new HarnessError(`GET ${url} answered ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  const [archive, sha1] = await Promise.all([
    fetchBytes(`${repo}/${ARTIFACT}`),
    fetchBytes(`${repo}/${ARTIFACT}.sha1`),
  ]);
  const expected = sha1.toString('utf8').trim().split(/\s+/)[0];
  const actual = createHash('sha1').update(archive).digest('hex');
  if (actual !== expected)
    throw new HarnessError(`Apicurio archive checksum mismatch: ${actual}, expected ${expected}`);
  mkdirSync(cacheDir(env), { recursive: true });
  const staging = mkdtempSync(join(cacheDir(env), 'apicurio-'));
  try {
    const file = join(staging, 'apicurio.tar.gz');
    writeFileSync(file, archive);
    const untar = await run('tar', ['-xzf', file, '-C', staging], { timeoutMs: 120_000 });
    if (untar.code !== 0) throw new HarnessError(`tar failed: ${tail(untar.stderr)}`);
    rmSync(file);
    writeFileSync(join(staging, 'complete'), `${actual}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(staging, home);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return jar;
}

/**
 * A throw-away Apicurio Registry (in-memory storage) on a free loopback port, for the suites
 * that need a schema registry. Its Confluent-compatible API is at `url`.
 */
export class RegistryServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Base URL of the Confluent-compatible API. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/apis/ccompat/v7`;
  }

  static async start(): Promise<RegistryServer> {
    const jar = await ensureApicurio();
    const server = new RegistryServer(
      await freePort(),
      mkdtempSync(join(tmpdir(), 'outbox-registry-')),
    );
    const log = openSync(join(server.dir, 'registry.log'), 'a');
    const child = spawn(
      'java',
      [
        '-Xmx384m',
        '-XX:+UseSerialGC',
        `-Dquarkus.http.port=${server.port}`,
        '-Dquarkus.http.host=127.0.0.1',
        '-Dquarkus.log.level=WARN',
        '-jar',
        jar,
      ],
      { stdio: ['ignore', log, log], cwd: server.dir },
    );
    closeSync(log);
    child.unref();
    server.child = child;
    server.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.pid !== undefined) reapOnExit(child.pid, server.dir, 'TERM');
    try {
      await server.waitUntilReady(child);
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new HarnessError(`Apicurio Registry exited (${child.exitCode}): ${this.logTail()}`);
      try {
        const health = await fetch(`http://127.0.0.1:${this.port}/health/ready`);
        if (health.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new HarnessError(
      `Apicurio Registry not ready within ${READY_TIMEOUT_MS} ms: ${this.logTail()}`,
    );
  }

  private logTail(): string {
    try {
      return tail(readFileSync(join(this.dir, 'registry.log'), 'utf8'));
    } catch {
      return '(no log)';
    }
  }

  /** Freezes the registry process (SIGSTOP): connections open, nothing answers. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Lets a paused registry run again (SIGCONT), schemas intact. */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the registry (its in-memory schemas are gone) and removes its files. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
