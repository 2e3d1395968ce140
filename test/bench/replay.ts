/**
 * `npm run bench:replay [-- --rows N] [-- --rate R] [-- --seconds S] [-- --max-rate M]`: what a
 * large replay costs the live relay. Fills an outbox table with N rows (default 1,000,000) before
 * the live relay's slot exists, then measures live end-to-end latency at R events/s (default
 * 1,000) for S seconds three times: alone, while a replay limited to M events/s (default 5,000)
 * runs through the window, and while `outbox-relay replay` re-publishes all N rows to other topics
 * as fast as it can (each phase after `sync`). Reports the latency figures, the replay's rate and its peak RSS. Writes
 * test/bench/results/replay.json (with the worst latency of each second). `--precreate` creates the
 * replay topics beforehand. Not part of `npm test`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { peakRss, RelayProcess, startNodeFlags } from '../helpers/relay-process';
import { measureLatency, type LatencyResult } from './measure';
import { relayEnvFor } from './relay-run';
import { createBenchTable, createTopic, fill } from './workload';

const say = (text: string) => process.stdout.write(`[replay] ${text}\n`);

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

interface ReplayRun {
  seconds: number;
  eventsPerSecond: number;
  peakRssBytes: number;
  exitCode: number | null;
  summary: string;
}

/** Runs `outbox-relay replay` as a user would, sampling its peak RSS until it exits. */
async function runReplay(env: Record<string, string>, args: string[]): Promise<ReplayRun> {
  const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
  const started = Date.now();
  const child = spawn(process.execPath, [...startNodeFlags(), cli, 'replay', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', () => undefined);
  let rss = 0;
  const sampler = setInterval(() => {
    try {
      const sample = peakRss(child.pid!);
      if (Number.isFinite(sample)) rss = Math.max(rss, sample);
    } catch {
      // exited between samples
    }
  }, 200);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const published = Number(/: (\d+) published/.exec(stdout)?.[1] ?? NaN);
  return {
    seconds,
    eventsPerSecond: Math.round(published / seconds),
    peakRssBytes: rss,
    exitCode,
    summary: stdout.trim(),
  };
}

async function main(): Promise<void> {
  const rows = Number(arg('--rows', '1000000'));
  const rate = Number(arg('--rate', '1000'));
  const seconds = Number(arg('--seconds', '30'));
  const maxRate = Number(arg('--max-rate', '5000'));
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  let relay: RelayProcess | undefined;
  try {
    const name = `bench_replay_${Date.now() % 100_000}`;
    // No slot yet: the live relay creates it after the fill, so it streams only new rows.
    const bench = await createBenchTable(pg.url, name, []);
    say(`filling ${rows} rows`);
    await fill(pg.url, name, rows, 100, 10_000);
    const env = relayEnvFor(pg, kafka, name, `${name}_live`);
    await createTopic(kafka.brokers, bench.topic);
    if (process.argv.includes('--precreate')) {
      await createTopic(kafka.brokers, `${name}_limited.bench`);
      await createTopic(kafka.brokers, `${name}_replay.bench`);
    }
    relay = new RelayProcess(env);
    await relay.waitUntilStreaming();
    const measure = (seqBase: number) =>
      measureLatency({
        url: pg.url,
        table: name,
        brokers: kafka.brokers,
        topic: bench.topic,
        rate,
        seconds,
        seqBase,
        timeline: true,
      });
    say(`live latency at ${rate}/s for ${seconds} s, alone`);
    const alone: LatencyResult = await measure(100_000_000);
    say(`alone: p50 ${alone.p50.toFixed(1)} ms, p99 ${alone.p99.toFixed(1)} ms`);
    // Each phase starts with the page cache written back: a previous phase's dirty pages would
    // otherwise be flushed during the next one and charged to it.
    execFileSync('sync');
    say(`live latency at ${rate}/s while a replay limited to ${maxRate}/s runs`);
    const limited = runReplay(env, [
      '--topic-template',
      `${name}_limited.{aggregateType}`,
      '--max-rate',
      String(maxRate),
      '--limit',
      String(maxRate * seconds),
    ]);
    const duringLimited: LatencyResult = await measure(300_000_000);
    const limitedRun = await limited;
    say(`worst latency per second (ms): ${duringLimited.worstMsBySecond?.join(' ') ?? ''}`);
    say(
      `during the limited replay: p50 ${duringLimited.p50.toFixed(1)} ms, p99 ${duringLimited.p99.toFixed(1)} ms (${limitedRun.eventsPerSecond} ev/s)`,
    );
    execFileSync('sync');
    say(`live latency at ${rate}/s while replaying ${rows} rows`);
    const replaying = runReplay(env, ['--topic-template', `${name}_replay.{aggregateType}`]);
    const during: LatencyResult = await measure(200_000_000);
    const replayRun = await replaying;
    say(`during replay: p50 ${during.p50.toFixed(1)} ms, p99 ${during.p99.toFixed(1)} ms`);
    say(`worst latency per second (ms): ${during.worstMsBySecond?.join(' ') ?? ''}`);
    say(
      `replay: ${replayRun.summary} (${replayRun.eventsPerSecond} ev/s, peak RSS ${Math.round(replayRun.peakRssBytes / 1048576)} MiB, exit ${String(replayRun.exitCode)})`,
    );
    const result = {
      date: new Date().toISOString(),
      rows,
      rate,
      seconds,
      liveAlone: alone,
      liveDuringReplay: during,
      /** Share of the latency window the replay overlapped (1 = the whole window). */
      overlap: Math.min(replayRun.seconds / seconds, 1),
      replaySeconds: replayRun.seconds,
      replayEventsPerSecond: replayRun.eventsPerSecond,
      replayPeakRssBytes: replayRun.peakRssBytes,
      replayExitCode: replayRun.exitCode,
      p99Ratio: during.p99 / alone.p99,
      maxRate,
      liveDuringLimitedReplay: duringLimited,
      limitedReplayEventsPerSecond: limitedRun.eventsPerSecond,
      limitedP99Ratio: duringLimited.p99 / alone.p99,
    };
    const dir = join(__dirname, '..', '..', '..', 'test', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'replay.json'), `${JSON.stringify(result, null, 2)}\n`);
    say(`written to test/bench/results/replay.json`);
  } finally {
    await relay?.stop();
    await Promise.all([pg.destroy(), kafka.destroy()]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
