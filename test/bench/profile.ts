/**
 * `npm run bench:profile [-- --events N] [-- --rows 1,100] [-- --env NAME=value ...]`: the relay catching up a workload
 * under `node --cpu-prof`, and where its CPU time went, by owner (kafkajs, the relay's own code,
 * pg, Node internals, GC, idle) and by function. Profiles are kept in
 * test/bench/results/profiles/ (not committed) for Chrome DevTools. Not part of `npm test`.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { relayCatchUp } from './relay-run';
import { createBenchTable, dropBenchTable, fill } from './workload';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** Who a sampled frame belongs to. */
function owner(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8 (program)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (match !== null) return match[1]!;
  if (url.includes('/dist/')) return 'outbox-relay';
  if (url.startsWith('node:')) return 'node internals';
  return url === '' ? 'native' : url;
}

interface ProfileSummary {
  totalMs: number;
  byOwner: Array<{ owner: string; share: number }>;
  byFunction: Array<{ name: string; share: number }>;
}

/** Self time shares by owner and by function (top `top`). */
function summarize(profile: CpuProfile, top = 25): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, count] of hits) {
    const { callFrame } = nodes.get(id)!;
    const who = owner(callFrame.url, callFrame.functionName);
    owners.set(who, (owners.get(who) ?? 0) + count);
    const file = callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/');
    const name = `${callFrame.functionName || '(anonymous)'} ${file}:${callFrame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + count);
  }
  const ranked = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([key, count]) => [key, count / total] as const);
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    byOwner: ranked(owners).map(([o, share]) => ({ owner: o, share })),
    byFunction: ranked(functions)
      .slice(0, top)
      .map(([name, share]) => ({ name, share })),
  };
}

const say = (text: string) => process.stdout.write(`[profile] ${text}\n`);

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const events = Number(argument('--events', '100000'));
  const rows = argument('--rows', '1,100').split(',').map(Number);
  // Relay settings to try (A/B against the defaults), e.g. --env KAFKA_BATCH_MAX_EVENTS=2000.
  const overrides = Object.fromEntries(
    process.argv.flatMap((arg, i) =>
      process.argv[i - 1] === '--env' ? [arg.split(/=(.*)/s).slice(0, 2)] : [],
    ),
  ) as Record<string, string>;
  const dir = join(__dirname, '..', '..', '..', 'test', 'bench', 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  try {
    for (const perTxn of rows) {
      const name = `prof_${perTxn}_${Date.now() % 100_000}`;
      const bench = await createBenchTable(pg.url, name, ['relay']);
      say(`${perTxn}-row transactions: writing ${events} events ...`);
      const endLsn = await fill(pg.url, name, events, perTxn, 10_000);
      const before = new Set(readdirSync(dir));
      const seen = await relayCatchUp({
        pg,
        kafka,
        table: name,
        slot: bench.slots[0]!,
        endLsn,
        timeoutMs: 600_000,
        topic: { name: bench.topic, events },
        env: overrides,
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`],
      });
      const { confirmedAt: caughtUpAt, peakRssBytes: rss } = seen;
      const file = readdirSync(dir).find((f) => !before.has(f) && f.startsWith(name));
      if (file === undefined) throw new Error(`the relay wrote no profile into ${dir}`);
      const summary = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
      say(
        `  ${(events / (seen.last - seen.first)).toFixed(0)} events/s on the topic, peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB (profiling included); profile ${summary.totalMs.toFixed(0)} ms (caught up ${(caughtUpAt - seen.first).toFixed(1)} s after the first record): ${file}`,
      );
      for (const { owner: who, share } of summary.byOwner.slice(0, 10))
        say(`    ${(share * 100).toFixed(1).padStart(5)}%  ${who}`);
      say('  top functions (self time):');
      for (const { name: fn, share } of summary.byFunction)
        say(`    ${(share * 100).toFixed(1).padStart(5)}%  ${fn}`);
      await dropBenchTable(pg.url, bench);
    }
  } finally {
    await Promise.all([kafka.stop(), pg.stop()]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[profile] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
