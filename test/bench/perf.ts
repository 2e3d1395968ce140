import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/**
 * Where the processes of a catch-up spend their CPU, kernel included, by Linux `perf record`
 * (sampling the named pids with call chains while the recording runs): per process, the share
 * of its samples in the kernel and under the system calls that move data (send, recv, write,
 * read). `bench:profile -- --perf` uses it to show what PostgreSQL's walsender does per event.
 */
export class PerfRecording {
  private readonly exited: Promise<void>;
  private stderr = '';
  private failure: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly file: string,
    private readonly pids: Record<string, number>,
  ) {
    // 'error' (perf not on PATH) may come without 'exit'.
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
  }

  /** Starts `perf record` on the given processes; `stop()` throws when perf was missing or refused. */
  static start(pids: Record<string, number | undefined>, file: string): PerfRecording {
    const known = Object.fromEntries(
      Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined),
    );
    const child = spawn(
      'perf',
      ['record', '-g', '-F', '999', '-o', file, '-p', Object.values(known).join(',')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const recording = new PerfRecording(child, file, known);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (recording.stderr += d));
    child.once(
      'error',
      (err) => (recording.failure = `perf record could not start: ${err.message}`),
    );
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== null && signal === null)
        recording.failure = `perf record exited ${code}: ${recording.stderr.trim()}`;
    });
    return recording;
  }

  /** Stops the recording (SIGINT, as perf expects) and summarizes it, a line per process. */
  async stop(): Promise<string[]> {
    this.child.kill('SIGINT');
    await this.exited;
    if (this.failure !== undefined) throw new Error(this.failure);
    const script = execFileSync('perf', ['script', '-i', this.file, '-F', 'pid,ip,sym,dso'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return summarizePerfScript(script, this.pids);
  }
}

const CALLS: Array<[string, RegExp]> = [
  ['send()', /^(__)?(libc_)?send(to|msg)?$/],
  ['recv()', /^(__)?(libc_)?recv(from|msg)?$/],
  ['write()', /^(__GI_)?(__)?(libc_)?write(v)?$/],
  ['read()', /^(__GI_)?(__)?(libc_)?read(v)?$/],
];

/** `perf script -F pid,ip,sym,dso` output: a header line with the pid, then one line per frame. */
export function summarizePerfScript(script: string, pids: Record<string, number>): string[] {
  const names = new Map(Object.entries(pids).map(([name, pid]) => [pid, name]));
  const stats = new Map<number, { samples: number; kernel: number; calls: number[] }>();
  for (const sample of script.split(/\n\s*\n/)) {
    const lines = sample.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2) continue;
    const pid = Number(lines[0]!.trim());
    const stat = stats.get(pid) ?? { samples: 0, kernel: 0, calls: CALLS.map(() => 0) };
    stats.set(pid, stat);
    stat.samples++;
    if (lines[1]!.includes('[kernel.kallsyms]')) stat.kernel++;
    const symbols = lines.slice(1).map((l) => l.trim().split(/\s+/)[1] ?? '');
    CALLS.forEach(([, pattern], i) => {
      if (symbols.some((s) => pattern.test(s))) stat.calls[i]!++;
    });
  }
  const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
  return [...names].map(([pid, name]) => {
    const stat = stats.get(pid);
    if (stat === undefined) return `${name} (pid ${pid}): no samples`;
    const calls = CALLS.map(([call], i) => `${call} ${pct(stat.calls[i]!, stat.samples)}`);
    return `${name} (pid ${pid}): ${stat.samples} samples, ${pct(stat.kernel, stat.samples)} in the kernel; under ${calls.join(', ')}`;
  });
}
