/**
 * `npm run bench:delivery [-- --rounds N] [-- --events N] [-- --rows 1,10,100]`: exactly-once
 * against at-least-once on the same WAL, alternating the two in every round so machine noise hits
 * both alike, and the median of each. One catch-up is a few seconds, and single runs on a shared
 * 2-core machine vary by tens of percent: `npm run bench` gives one run of each; this gives the
 * ratio. Writes test/bench/results/delivery.json. Not part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { alternatingCatchUps, exactlyOnceEnv } from './relay-run';
import { argument } from './args';

const say = (text: string) => process.stdout.write(`[delivery] ${text}\n`);

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Run {
  /** events/s between the first and the last record a read_committed consumer saw */
  onTopic: number;
  /** events/s from "streaming" to the slot confirming the last commit */
  confirmed: number;
  peakRssBytes: number;
}

async function main(): Promise<void> {
  const rounds = Number(argument('--rounds', '3'));
  const events = Number(argument('--events', '200000'));
  const sizes = argument('--rows', '1,10,100').split(',').map(Number);
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  const results: Array<Record<string, unknown>> = [];
  try {
    for (const perTxn of sizes) {
      const runs: Record<'atLeastOnce' | 'exactlyOnce', Run[]> = {
        atLeastOnce: [],
        exactlyOnce: [],
      };
      await alternatingCatchUps({
        pg,
        kafka,
        prefix: 'bench_dlv',
        variants: [
          { name: 'at-least-once', topic: (table) => `${table}.bench` },
          { name: 'exactly-once', topic: (table) => `${table}_eos.bench`, env: exactlyOnceEnv },
        ],
        rounds,
        events,
        perTxn,
        onRun: (variant, round, run) => {
          const result: Run = {
            onTopic: events / (run.last - run.first),
            confirmed: events / (run.confirmedAt - run.streamingAt),
            peakRssBytes: run.peakRssBytes,
          };
          const eos = variant.name === 'exactly-once';
          runs[eos ? 'exactlyOnce' : 'atLeastOnce'].push(result);
          say(
            `${perTxn}-row round ${round} ${variant.name.padEnd(13)}: ${result.onTopic.toFixed(0)} events/s on the topic, ${result.confirmed.toFixed(0)}/s confirmed, peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
          );
        },
      });
      const m = (which: 'atLeastOnce' | 'exactlyOnce', key: keyof Run) =>
        median(runs[which].map((r) => r[key]));
      const row = {
        workload: `${perTxn}-row txns`,
        events,
        rounds,
        atLeastOnce: {
          onTopic: m('atLeastOnce', 'onTopic'),
          confirmed: m('atLeastOnce', 'confirmed'),
        },
        exactlyOnce: {
          onTopic: m('exactlyOnce', 'onTopic'),
          confirmed: m('exactlyOnce', 'confirmed'),
        },
        ratioOnTopic: m('exactlyOnce', 'onTopic') / m('atLeastOnce', 'onTopic'),
        ratioConfirmed: m('exactlyOnce', 'confirmed') / m('atLeastOnce', 'confirmed'),
        peakRssBytes: {
          atLeastOnce: Math.max(...runs.atLeastOnce.map((r) => r.peakRssBytes)),
          exactlyOnce: Math.max(...runs.exactlyOnce.map((r) => r.peakRssBytes)),
        },
        runs,
      };
      results.push(row);
      say(
        `${row.workload}: medians of ${rounds} — at-least-once ${row.atLeastOnce.onTopic.toFixed(0)}/s (confirmed ${row.atLeastOnce.confirmed.toFixed(0)}/s), exactly-once ${row.exactlyOnce.onTopic.toFixed(0)}/s (confirmed ${row.exactlyOnce.confirmed.toFixed(0)}/s): ${(100 * row.ratioOnTopic).toFixed(0)}% on the topic, ${(100 * row.ratioConfirmed).toFixed(0)}% confirmed`,
      );
    }
  } finally {
    await Promise.allSettled([pg.destroy(), kafka.destroy()]);
  }
  const dir = join(__dirname, '..', '..', '..', 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'delivery.json');
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString().slice(0, 10), command: 'npm run bench:delivery', results }, null, 2)}\n`,
  );
  say(`written: test/bench/results/delivery.json`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[delivery] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
