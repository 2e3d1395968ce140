/**
 * `npm run bench:profile [-- --events N] [-- --rows 1,100] [-- --env NAME=value ...] [-- --perf]`:
 * the relay catching up a workload under `node --cpu-prof`, and where its CPU time went, by owner
 * (kafkajs, the relay's own code, pg, Node internals, GC, idle) and by function. With `--perf`
 * (Linux perf on PATH), also `perf record` on the walsender, the relay and the broker during each
 * catch-up: each one's share in the kernel and under send/recv/write/read (`perf.ts`); the
 * recording is kept beside the profiles for `perf report`. With `--rate N [--seconds S]` instead: the relay
 * streaming live while 4 writers commit N single-row transactions/s for S s (default 15), as in
 * the latency bench. Profiles are kept in
 * test/bench/results/profiles/ (not committed) for Chrome DevTools. Not part of `npm test`.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { RelayProcess } from '../helpers/relay-process';
import { warmUpBroker } from './broker-warm-up';
import { CpuWindow, describeCpu } from './cpu';
import { measureLatency } from './measure';
import { relayCatchUp, relayEnvFor } from './relay-run';
import { createBenchTable, createTopic, dropBenchTable, fill, walsenderPid } from './workload';
import { argument, envArguments } from './args';
import { PerfRecording } from './perf';

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

/**
 * The relay under the profiler while 4 writers commit `rate` single-row transactions/s for
 * `seconds` (after 2 s of warm-up), as the latency bench does; returns its profile's file name and
 * what the window showed (latency, CPU of the relay, its walsender and the broker).
 */
async function profileLive(
  pg: PostgresServer,
  kafka: KafkaServer,
  rate: number,
  seconds: number,
  overrides: Record<string, string>,
  profileArgs: (name: string) => string[],
): Promise<{ file: string; head: string }> {
  const name = `prof_live_${rate}_${Date.now() % 100_000}`;
  const bench = await createBenchTable(pg.url, name, ['relay']);
  await createTopic(kafka.brokers, bench.topic);
  const relay = new RelayProcess(
    { ...relayEnvFor(pg, kafka, name, bench.slots[0]!), ...overrides },
    profileArgs(name),
  );
  try {
    await relay.waitUntilStreaming(120_000);
    const walsender = await walsenderPid(pg.url, bench.slots[0]!);
    let window: CpuWindow | undefined;
    const common = { url: pg.url, table: name, brokers: kafka.brokers, topic: bench.topic, rate };
    const result = await measureLatency({
      ...common,
      seconds,
      warmUpSeconds: 2,
      seqBase: 0,
      onWindow: () => {
        window = new CpuWindow({ relay: relay.pid, walsender, kafka: kafka.pid });
      },
    });
    if (window === undefined) throw new Error('the latency window never started');
    const cpu = window.stop();
    return {
      file: `${name}.cpuprofile`,
      head: `live at ${rate}/s for ${seconds} s (after 2 s of warm-up): p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.received}/${result.sent} received; ${describeCpu(cpu)}`,
    };
  } finally {
    // Stopped before the profile is read: the relay writes it when it exits.
    await relay.stop();
    await dropBenchTable(pg.url, bench);
  }
}

async function main(): Promise<void> {
  const events = Number(argument('--events', '100000'));
  const rows = argument('--rows', '1,100').split(',').map(Number);
  // Relay settings to try (A/B against the defaults), e.g. --env KAFKA_BATCH_MAX_EVENTS=2000.
  const overrides = envArguments('--env');
  // Linux perf on the walsender, the relay and the broker during each catch-up (needs perf).
  const perf = process.argv.includes('--perf');
  const dir = join(__dirname, '..', '..', '..', 'test', 'bench', 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  const report = (file: string, head: string) => {
    const summary = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    say(`${head}; profile ${summary.totalMs.toFixed(0)} ms: ${file}`);
    for (const { owner: who, share } of summary.byOwner.slice(0, 10))
      say(`    ${(share * 100).toFixed(1).padStart(5)}%  ${who}`);
    say('  top functions (self time):');
    for (const { name: fn, share } of summary.byFunction)
      say(`    ${(share * 100).toFixed(1).padStart(5)}%  ${fn}`);
  };
  const profileArgs = (name: string) => [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}.cpuprofile`,
  ];
  try {
    say(`broker warmed up: ${await warmUpBroker(kafka.brokers, 2 * events, 10_000)}`);
    const rate = Number(argument('--rate', 'NaN'));
    if (Number.isFinite(rate)) {
      const seconds = Number(argument('--seconds', '15'));
      const { file, head } = await profileLive(pg, kafka, rate, seconds, overrides, profileArgs);
      report(file, head);
      return;
    }
    for (const perTxn of rows) {
      const name = `prof_${perTxn}_${Date.now() % 100_000}`;
      const bench = await createBenchTable(pg.url, name, ['relay']);
      say(`${perTxn}-row transactions: writing ${events} events ...`);
      const endLsn = await fill(pg.url, name, events, perTxn, 10_000);
      const before = new Set(readdirSync(dir));
      let recording: PerfRecording | undefined;
      const seen = await relayCatchUp({
        pg,
        kafka,
        table: name,
        slot: bench.slots[0]!,
        endLsn,
        timeoutMs: 600_000,
        topic: { name: bench.topic, events },
        env: overrides,
        nodeArgs: profileArgs(name),
        onStreaming: ({ relay, walsender }) => {
          if (perf)
            recording = PerfRecording.start(
              { walsender, relay, broker: kafka.pid },
              join(dir, `${name}.perf.data`),
            );
        },
      });
      const perfLines = (await recording?.stop()) ?? [];
      const { confirmedAt: caughtUpAt, peakRssBytes: rss } = seen;
      const file = readdirSync(dir).find((f) => !before.has(f) && f.startsWith(name));
      if (file === undefined) throw new Error(`the relay wrote no profile into ${dir}`);
      report(
        file,
        `  ${(events / (seen.last - seen.first)).toFixed(0)} events/s on the topic, peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB (profiling included), caught up ${(caughtUpAt - seen.first).toFixed(1)} s after the first record`,
      );
      if (perf) say('  perf record over the catch-up (samples of each process, call chains):');
      for (const line of perfLines) say(`    ${line}`);
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
