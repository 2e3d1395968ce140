import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KafkaServer } from './harness/kafka';
import { PostgresServer } from './harness/postgres';

/** Services this run started (and so must stop); read back by global-teardown.ts. */
export interface StartedServices {
  postgres?: PostgresServer;
  kafka?: KafkaServer;
}

declare global {
  var __outboxRelayServices: StartedServices | undefined;
}

/**
 * Starts one PostgreSQL and one Kafka for the whole integration run, unless TEST_DATABASE_URL /
 * TEST_KAFKA_BROKERS already point at services to use. Workers inherit the variables set here.
 */
export default async function globalSetup(): Promise<void> {
  const started: StartedServices = {};
  globalThis.__outboxRelayServices = started;
  const t0 = Date.now();
  buildRelay();
  const needPostgres = !process.env.TEST_DATABASE_URL;
  const needKafka = !process.env.TEST_KAFKA_BROKERS;
  const results = await Promise.allSettled([
    needPostgres ? PostgresServer.start().then((pg) => (started.postgres = pg)) : undefined,
    needKafka ? KafkaServer.start().then((kafka) => (started.kafka = kafka)) : undefined,
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled([started.postgres?.destroy(), started.kafka?.destroy()]);
    throw failed.reason;
  }
  if (started.postgres) process.env.TEST_DATABASE_URL = started.postgres.url;
  if (started.kafka) process.env.TEST_KAFKA_BROKERS = started.kafka.brokers;
  const what = [
    started.postgres
      ? `PostgreSQL on :${started.postgres.port}`
      : 'PostgreSQL from TEST_DATABASE_URL',
    started.kafka ? `Kafka on :${started.kafka.port}` : 'Kafka from TEST_KAFKA_BROKERS',
  ];
  process.stdout.write(`\n[harness] ${what.join(', ')} ready in ${Date.now() - t0} ms\n`);
}

/** Relay tests run the built CLI (`dist/cli.js`) as users do; build it first. */
function buildRelay(): void {
  const root = join(__dirname, '..');
  const result = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0)
    throw new Error(`building the relay failed:\n${result.stdout}${result.stderr}`);
}
