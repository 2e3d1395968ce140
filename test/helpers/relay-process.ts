import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { reapOnExit } from '../harness/exec';
import { waitFor } from './wait-for';

/** Peak resident set size (VmHWM) of a running process, in bytes. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/** The repository root: where package.json is (tests run from test/, the bench from .build/test/). */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const CLI = join(repositoryRoot(), 'dist', 'cli.js');

/**
 * The node flags `npm start` runs the relay with (package.json), so tests, the bench and the demo
 * run it exactly as users do.
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(repositoryRoot(), 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('dist/cli.js'));
}

export interface LogLine {
  level: string;
  msg: string;
  code?: string;
  [key: string]: unknown;
}

/**
 * The relay as users run it: `npm start`'s command line in its own process, configured only by
 * environment variables. Its JSON log lines are collected for assertions.
 */
export class RelayProcess {
  /** Every relay a test started; the integration setup stops leftovers after each test file. */
  private static readonly started = new Set<RelayProcess>();

  static async stopAll(): Promise<void> {
    await Promise.all(
      [...RelayProcess.started].map(async (relay) => {
        relay.kill('SIGKILL');
        await relay.exited;
      }),
    );
  }

  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  /**
   * `nodeArgs` go to node before the script (the profiler uses `--cpu-prof`); `cli` is the
   * script (an installed package's, for the packaging test).
   */
  constructor(env: Record<string, string>, nodeArgs: string[] = [], cli = CLI) {
    this.child = spawn(process.execPath, [...startNodeFlags(), ...nodeArgs, cli, 'start'], {
      env: { PATH: process.env.PATH, LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: 'raw', msg: line });
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    RelayProcess.started.add(this);
    void this.exited.then(() => RelayProcess.started.delete(this));
    // If the test process dies, the relay must not live on.
    reapOnExit(this.child.pid!, '', 'TERM');
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): number {
    return peakRss(this.pid);
  }

  async waitForLog(
    predicate: (line: LogLine) => boolean,
    description: string,
    timeoutMs = 60_000,
  ): Promise<LogLine> {
    return waitFor(
      () => {
        const found = this.logs.find(predicate);
        if (found !== undefined) return found;
        if (!this.running) throw new Error(`relay exited before "${description}":\n${this.tail()}`);
        return undefined;
      },
      { timeoutMs, description },
    );
  }

  waitUntilStreaming(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog(
      (l) => l.msg === 'streaming' || /now active and streaming/.test(l.msg),
      'streaming',
      timeoutMs,
    );
  }

  /** GET on the relay's HTTP endpoint (tests use HTTP_PORT=0: the port comes from the log). */
  async http(path: string): Promise<{ status: number; body: string }> {
    const line = await this.waitForLog(
      (l) => l.msg.startsWith('http endpoint listening'),
      'the http endpoint',
      30_000,
    );
    const res = await fetch(`http://127.0.0.1:${String(line.port)}${path}`, {
      signal: AbortSignal.timeout(10_000),
      headers: { connection: 'close' },
    });
    return { status: res.status, body: await res.text() };
  }

  /** The `/` status document. */
  async status(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.http('/')).body) as Record<string, unknown>;
  }

  /** Scrapes `/metrics`: sample name with labels (as printed) -> value. */
  async metrics(): Promise<Map<string, number>> {
    const { body } = await this.http('/metrics');
    const samples = new Map<string, number>();
    for (const line of body.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return samples;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Stops the relay (SIGTERM) and returns its exit code; SIGKILL if it takes too long. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  tail(n = 15): string {
    const lines = this.logs
      .slice(-n)
      .map((l) => `${l.level} ${l.msg}${l.code ? ` [${l.code}]` : ''}`);
    return [...lines, this.stderr.trim()].filter((l) => l !== '').join('\n');
  }
}
