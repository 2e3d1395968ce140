/**
 * `npm run bench:ab -- --a DIR --b DIR [--rows 1] [--events 200000] [--rounds 3]
 * [--a-env NAME=value ...] [--b-env NAME=value ...] [--a-unix-socket] [--b-unix-socket]`: two built
 * checkouts of the relay (each with its `package.json` and `dist/`; e.g. this one, `--b .`, after
 * `npm run build`, against `git worktree add ../before <rev> && ln -s "$PWD/node_modules"
 * ../before/ && (cd ../before && npm run build)`) catching up the same WAL, taking turns. Each round writes the
 * workload once, with one slot per build, and runs them in alternating order; per run it prints
 * events/s and the CPU per event of the relay, its walsender and the broker (from `/proc`), then
 * the means of each build. On a shared machine whose speed drifts, only such side-by-side runs
 * tell a small change from the noise. `--a-env` / `--b-env` set relay settings for one side only
 * (two settings of one build: `--a . --b . --b-env MAX_IN_FLIGHT_EVENTS=20000`);
 * `--a-unix-socket` / `--b-unix-socket` have that side reach PostgreSQL by its Unix socket
 * instead of loopback TCP. Not part of `npm test`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { argument, envArguments } from './args';
import { warmUpBroker } from './broker-warm-up';
import { alternatingCatchUps, flowPausedShare } from './relay-run';

const say = (text: string) => process.stdout.write(`[ab] ${text}\n`);

interface Run {
  eventsPerSecond: number;
  relayUs: number;
  walsenderUs: number;
  brokerUs: number;
  /** Share of the catch-up (streaming to confirmed) the relay's reading was paused by flow control. */
  flowPausedShare: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const builds = (['--a', '--b'] as const).map((flag) => {
    const dir = resolve(argument(flag, ''));
    const cli = join(dir, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${flag} must name a built checkout: no ${cli}`);
    // --a-unix-socket / --b-unix-socket: that side's relay reaches PostgreSQL by its Unix socket.
    const socket = process.argv.includes(`${flag}-unix-socket`);
    return { name: flag.slice(2), cli, env: envArguments(`${flag}-env`), socket };
  });
  const rows = Number(argument('--rows', '1'));
  const events = Number(argument('--events', '200000'));
  const rounds = Number(argument('--rounds', '3'));
  // A checkout without node_modules of its own finds its dependencies in this one's.
  const nodePath = join(__dirname, '..', '..', '..', 'node_modules');
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  const runs = new Map<string, Run[]>(builds.map((b) => [b.name, []]));
  try {
    say(`broker warmed up: ${await warmUpBroker(kafka.brokers, 2 * events, 10_000)}`);
    await alternatingCatchUps({
      pg,
      kafka,
      prefix: 'ab',
      variants: builds.map(({ name, cli, env, socket }) => ({
        name,
        cli,
        topic: (table) => `${table}_${name}.bench`,
        env: (table) => ({
          TOPIC_TEMPLATE: `${table}_${name}.{aggregateType}`,
          NODE_PATH: nodePath,
          ...(socket ? { DATABASE_URL: pg.socketUrl } : {}),
          ...env,
        }),
      })),
      rounds,
      events,
      perTxn: rows,
      onRun: (build, round, seen) => {
        if (seen.confirmedEarly) throw new Error(`build ${build.name} confirmed before publishing`);
        const run: Run = {
          eventsPerSecond: events / (seen.last - seen.first),
          relayUs: seen.cpu.systemUs,
          walsenderUs: seen.cpu.walsenderUs,
          brokerUs: seen.cpu.kafkaUs,
          flowPausedShare: flowPausedShare(seen),
        };
        runs.get(build.name)!.push(run);
        say(
          `round ${round}, ${build.name}: ${run.eventsPerSecond.toFixed(0)} events/s, CPU per event: relay ${run.relayUs.toFixed(1)} us, walsender ${run.walsenderUs.toFixed(1)}, broker ${run.brokerUs.toFixed(1)} (machine ${(100 * seen.cpu.machineBusy).toFixed(0)}% busy), peak RSS ${(seen.peakRssBytes / 2 ** 20).toFixed(0)} MiB, reading paused by flow control ${(100 * run.flowPausedShare).toFixed(0)}% of the catch-up (${seen.flowPaused.pauses} pauses)`,
        );
      },
    });
    for (const [build, list] of runs)
      say(
        `${build} (${rows}-row transactions, ${list.length} runs): ${mean(list.map((r) => r.eventsPerSecond)).toFixed(0)} events/s, relay ${mean(list.map((r) => r.relayUs)).toFixed(2)} us, walsender ${mean(list.map((r) => r.walsenderUs)).toFixed(2)} us, broker ${mean(list.map((r) => r.brokerUs)).toFixed(2)} us per event, reading paused ${(100 * mean(list.map((r) => r.flowPausedShare))).toFixed(0)}% of the time`,
      );
  } finally {
    await Promise.all([kafka.stop(), pg.stop()]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[ab] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
