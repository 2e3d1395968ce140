/**
 * `npm run bench:replay [-- --rows N] [-- --rate R] [-- --seconds S] [-- --max-rate M]
 * [-- --replay-delay D] [-- --phases alone,dry,limited,full] [-- --precreate] [-- --verbose]`:
 * what a large replay costs the live relay. Fills an outbox table with N rows (default 1,000,000)
 * before the live relay's slot exists, then measures live end-to-end latency at R events/s
 * (default 1,000) for S seconds (default 30) per phase: alone; while `outbox-relay replay --dry-run`
 * starts and counts (`dry`, not by default); while a replay limited to M events/s (default 5,000)
 * runs; while a replay re-publishes all N rows to other topics as fast as it can. Each replay is
 * started D seconds (default 5) into its window, so the window shows the seconds before it; the
 * figures "from the replay's start" cover the events committed from then on (for `alone`, from
 * the same second). `--precreate` creates the replay topics beforehand; `--verbose` prints the
 * replay's log with its times since start. Writes test/bench/results/replay.json (with the worst
 * latency of each second). Not part of `npm test`.
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
import { argument } from './args';

const say = (text: string) => process.stdout.write(`[replay] ${text}\n`);

interface ReplayRun {
  seconds: number;
  eventsPerSecond: number;
  peakRssBytes: number;
  exitCode: number | null;
  summary: string;
  log: string;
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
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    // Each line with its time since spawn: when the replay connected, started publishing.
    for (const line of chunk.toString().split('\n'))
      if (line.trim() !== '') stderr += `+${((Date.now() - started) / 1000).toFixed(2)}s ${line}\n`;
  });
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
    log: stderr,
  };
}

async function main(): Promise<void> {
  const rows = Number(argument('--rows', '1000000'));
  const rate = Number(argument('--rate', '1000'));
  const seconds = Number(argument('--seconds', '30'));
  const maxRate = Number(argument('--max-rate', '5000'));
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
    const delay = Number(argument('--replay-delay', '5'));
    const phases = argument('--phases', 'alone,limited,full').split(',');
    const measure = (seqBase: number, onWriting?: () => void) =>
      measureLatency({
        url: pg.url,
        table: name,
        brokers: kafka.brokers,
        topic: bench.topic,
        rate,
        seconds,
        seqBase,
        timeline: true,
        onWriting,
        splitAtSecond: delay,
      });
    /**
     * Live latency while a replay runs, the replay started `delay` seconds into the window so
     * the seconds before it show the baseline. Each phase starts with the page cache written
     * back: a previous phase's dirty pages would otherwise be flushed during the next one.
     */
    const during = async (seqBase: number, label: string, args: string[]) => {
      execFileSync('sync');
      say(`live latency at ${rate}/s; ${label} starts after ${delay} s`);
      let run: Promise<ReplayRun> | undefined;
      const latency = await measure(seqBase, () => {
        setTimeout(() => {
          run = runReplay(env, args);
        }, delay * 1000);
      });
      const replayRun = await run!;
      say(`worst latency per second (ms): ${latency.worstMsBySecond?.join(' ') ?? ''}`);
      say(
        `p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms; from the replay's start: p99 ${latency.afterSplit?.p99.toFixed(1) ?? '?'} ms, max ${latency.afterSplit?.max.toFixed(1) ?? '?'} ms`,
      );
      say(
        `${label}: ${replayRun.summary} (${replayRun.eventsPerSecond} ev/s, peak RSS ${Math.round(replayRun.peakRssBytes / 1048576)} MiB, exit ${String(replayRun.exitCode)})`,
      );
      if (process.argv.includes('--verbose')) process.stdout.write(replayRun.log);
      return { latency, replayRun };
    };
    const skipped: LatencyResult = {
      rate,
      sent: 0,
      received: 0,
      p50: NaN,
      p95: NaN,
      p99: NaN,
      max: NaN,
    };
    let alone = skipped;
    if (phases.includes('alone')) {
      say(`live latency at ${rate}/s for ${seconds} s, alone`);
      alone = await measure(100_000_000);
      say(
        `alone: p50 ${alone.p50.toFixed(1)} ms, p99 ${alone.p99.toFixed(1)} ms; from second ${delay}: p99 ${alone.afterSplit?.p99.toFixed(1) ?? '?'} ms, max ${alone.afterSplit?.max.toFixed(1) ?? '?'} ms`,
      );
      say(`worst latency per second (ms): ${alone.worstMsBySecond?.join(' ') ?? ''}`);
    }
    if (phases.includes('dry'))
      await during(400_000_000, 'a dry-run replay (start-up and count only)', ['--dry-run']);
    const limited = phases.includes('limited')
      ? await during(300_000_000, `a replay limited to ${maxRate}/s`, [
          '--topic-template',
          `${name}_limited.{aggregateType}`,
          '--max-rate',
          String(maxRate),
          '--limit',
          String(maxRate * seconds),
        ])
      : undefined;
    const full = phases.includes('full')
      ? await during(200_000_000, `a replay of all ${rows} rows`, [
          '--topic-template',
          `${name}_replay.{aggregateType}`,
        ])
      : undefined;
    const result = {
      date: new Date().toISOString(),
      rows,
      rate,
      seconds,
      /** Seconds into each latency window at which the replay was started. */
      replayDelay: delay,
      liveAlone: alone,
      liveDuringReplay: full?.latency,
      /** Share of the latency window the replay overlapped (1 = the whole window). */
      overlap: full && Math.min(full.replayRun.seconds / (seconds - delay), 1),
      replaySeconds: full?.replayRun.seconds,
      replayEventsPerSecond: full?.replayRun.eventsPerSecond,
      replayPeakRssBytes: full?.replayRun.peakRssBytes,
      replayExitCode: full?.replayRun.exitCode,
      p99Ratio: full && full.latency.p99 / alone.p99,
      maxRate,
      liveDuringLimitedReplay: limited?.latency,
      limitedReplayEventsPerSecond: limited?.replayRun.eventsPerSecond,
      limitedP99Ratio: limited && limited.latency.p99 / alone.p99,
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
