import { spawn, spawnSync } from 'node:child_process';
import { HarnessError } from './errors';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command after this many milliseconds (it then counts as failed). */
  timeoutMs: number;
  /** Run as this (unprivileged) user through runuser; needed by initdb when we are root. */
  user?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Wraps a command so it runs as `user` when one is given (we are root and the tool refuses root). */
export function asUser(user: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return user === undefined ? [cmd, args] : ['runuser', ['-u', user, '--', cmd, ...args]];
}

/** Runs a command to completion, bounded in time; never throws for a non-zero exit. */
export function run(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  const [file, argv] = asUser(options.user, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[harness] killed after ${options.timeoutMs} ms`;
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new HarnessError(`cannot run ${file}: ${err.message}`, undefined, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** True when `cmd` can be executed (found on PATH or by path). */
export function commandExists(cmd: string, versionArgs: string[] = ['--version']): boolean {
  const result = spawnSync(cmd, versionArgs, { stdio: 'ignore', timeout: 30_000 });
  return result.error === undefined && result.status === 0;
}

/** Last `n` lines of a text, for error messages that quote a failing tool's output. */
export function tail(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Makes sure a service we started dies with us. A detached shell watches the process that started
 * the service (`ownerPid`); if that process disappears (test run interrupted, worker killed, even SIGKILL) the
 * watcher terminates the service and removes its directory. If the service itself ends first (normal
 * stop or a restart that gives it a new pid) the watcher simply exits and leaves the directory alone.
 */
export function reapOnExit(
  servicePid: number,
  dir: string,
  signal: 'INT' | 'TERM' = 'TERM',
  ownerPid: number = process.pid,
): void {
  const script = [
    'P=$1; T=$2; D=$3; S=$4',
    'while kill -0 "$P" 2>/dev/null; do kill -0 "$T" 2>/dev/null || exit 0; sleep 1; done',
    'kill -"$S" "$T" 2>/dev/null',
    'i=0; while kill -0 "$T" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    'kill -KILL "$T" 2>/dev/null',
    'sleep 0.5; [ -n "$D" ] && rm -rf "$D"',
  ].join('\n');
  const watcher = spawn(
    'sh',
    ['-c', script, 'outbox-relay-reaper', String(ownerPid), String(servicePid), dir, signal],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watcher.unref();
}
