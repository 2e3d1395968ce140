import { KafkaServer } from '../../harness/kafka';
import { createOutboxTable, dropOutbox, outboxNames, relayEnv } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl } from '../../helpers/services';

/** Runs the relay until it exits by itself (bounded); returns its exit code and fatal line. */
async function runToExit(env: Record<string, string>, boundMs: number) {
  const relay = new RelayProcess(env);
  const started = Date.now();
  const code = await Promise.race([
    relay.exited,
    new Promise<'still running'>((r) => setTimeout(() => r('still running'), boundMs)),
  ]);
  if (code === 'still running') relay.kill('SIGKILL');
  const fatal = [...relay.logs].reverse().find((l) => l.level === 'fatal');
  return { code, fatal, tookMs: Date.now() - started, stderr: relay.stderr };
}

describe('relay: exactly-once start-up errors', () => {
  const url = testDatabaseUrl();

  it('failsOnATransactionTimeoutAboveTheBrokersMaximum, naming the option', async () => {
    const names = outboxNames('eos_timeout');
    await createOutboxTable(url, names.table);
    try {
      const { code, fatal } = await runToExit(
        relayEnv(names, {
          DELIVERY_GUARANTEE: 'exactly-once',
          POSITION_TOPIC: `${names.topicPrefix}.positions`,
          // The broker's transaction.max.timeout.ms is 15 minutes by default.
          KAFKA_TRANSACTION_TIMEOUT_MS: '1000000',
        }),
        30_000,
      );
      expect(code).toBe(1);
      expect(fatal?.code).toBe('KAFKA_TRANSACTION');
      expect(fatal?.msg).toContain('KAFKA_TRANSACTION_TIMEOUT_MS=1000000');
      expect(fatal?.msg).toContain('transaction.max.timeout.ms');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('failsOnABrokerThatCannotRunTransactions within STARTUP_TIMEOUT_MS, naming the broker settings', async () => {
    // One broker, but a transaction state log that wants three replicas: no coordinator, ever.
    const kafka = await KafkaServer.start({
      properties: { 'transaction.state.log.replication.factor': 3 },
    });
    const names = outboxNames('eos_notxn');
    await createOutboxTable(url, names.table);
    try {
      const { code, fatal, tookMs } = await runToExit(
        relayEnv(names, {
          KAFKA_BROKERS: kafka.brokers,
          DELIVERY_GUARANTEE: 'exactly-once',
          POSITION_TOPIC: `${names.topicPrefix}.positions`,
          STARTUP_TIMEOUT_MS: '6000',
          RETRY_MAX_MS: '1000',
        }),
        60_000,
      );
      expect(code).toBe(1);
      expect(fatal?.code).toBe('KAFKA_TRANSACTION');
      expect(fatal?.msg).toContain('transaction.state.log.replication.factor');
      expect(fatal?.msg).toContain('STARTUP_TIMEOUT_MS=6000');
      expect(tookMs).toBeLessThan(45_000);
    } finally {
      await dropOutbox(url, names);
      await kafka.destroy();
    }
  });
});
