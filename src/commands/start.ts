import { describeError, isRelayError } from '../errors';
import type { ValueFormat } from '../kafka/formats';
import { describeKafkaSecurity } from '../kafka/security';
import { createLogger, KafkaLogTap } from '../logger';
import { HttpEndpoint } from '../ops/http-server';
import { RelayMetrics } from '../ops/metrics';
import { RelayOps } from '../ops/relay-ops';
import { RelayState } from '../ops/state';
import { describeDatabase, redactUrl } from '../redact';
import { fastPathStatus } from '../kafka/fast-path/install';
import { recordMapper, valueFormat } from '../relay/from-config';
import { Relay } from '../relay/relay';
import { bootstrap, EXIT, type Bootstrap } from './bootstrap';

/**
 * Composition root of the relay: the only place that reads the environment and builds the
 * network adapters. Returns the process exit code.
 */
export async function startRelay(env: NodeJS.ProcessEnv, version: string): Promise<number> {
  let setup: Bootstrap;
  try {
    setup = bootstrap(env);
  } catch (err) {
    process.stderr.write(`outbox-relay: ${describeError(err)}\n`);
    return EXIT.CONFIG;
  }
  const { config } = setup;
  const log = createLogger(config.logLevel);
  let format: ValueFormat;
  try {
    format = valueFormat(config, log);
  } catch (err) {
    process.stderr.write(`outbox-relay: ${describeError(err)}\n`);
    return EXIT.CONFIG;
  }
  log.info(
    {
      version,
      database: describeDatabase(config.databaseUrl),
      brokers: config.kafkaBrokers,
      kafkaSecurity: describeKafkaSecurity(config),
      table: config.outboxTable.qualified(),
      slot: config.slotName,
      publication: config.publicationName,
      topicTemplate: config.topicTemplate.text,
      valueFormat: format.name,
      schemaRegistry:
        config.schemaRegistryUrl === undefined ? undefined : redactUrl(config.schemaRegistryUrl),
    },
    'starting',
  );
  const fastPath = fastPathStatus();
  if (fastPath.active)
    log.info(
      { producePath: 'fast', kafkajs: fastPath.kafkajs },
      "produce path: the relay's own (single-pass record batches, linear grouping, 32-bit murmur2)",
    );
  else
    log.warn(
      { producePath: 'kafkajs', kafkajs: fastPath.kafkajs, problems: fastPath.problems },
      `produce path: kafkajs' own, SLOWER than the relay's (${fastPath.problems.join('; ')}); events are published correctly, at a lower rate`,
    );
  const kafkaLogs = new KafkaLogTap();
  const kafka = setup.kafka(log, kafkaLogs);
  const state = new RelayState(config.slotName, config.publicationName);
  state.delivery = config.deliveryGuarantee;
  state.producePath = fastPath.active ? 'fast' : 'kafkajs';
  const metrics = new RelayMetrics(state);
  let http: HttpEndpoint;
  try {
    http = await HttpEndpoint.listen(config.httpHost, config.httpPort, state, metrics, version);
  } catch (err) {
    log.fatal({ code: isRelayError(err) ? err.code : undefined }, describeError(err));
    return EXIT.FATAL;
  }
  log.info(
    { host: config.httpHost, port: http.port },
    'http endpoint listening (/healthz, /readyz, /metrics, /)',
  );
  const relay = new Relay(
    config,
    kafka,
    log,
    new RelayOps(state, metrics),
    recordMapper(config, format),
    kafkaLogs,
  );
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn(
        { signal },
        'second signal: exiting now without waiting (unconfirmed events are published again on restart)',
      );
      process.exit(EXIT.FATAL);
    }
    log.info({ signal }, 'shutdown requested');
    relay.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await relay.run();
    log.info('stopped');
    return EXIT.OK;
  } catch (err) {
    if (isRelayError(err)) log.fatal({ code: err.code, ...stringify(err.context) }, err.message);
    else log.fatal({ err }, describeError(err));
    return EXIT.FATAL;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await http.close();
  }
}

function stringify(
  context: Readonly<Record<string, string | number | bigint | boolean | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(context))
    if (value !== undefined) out[key] = String(value);
  return out;
}
