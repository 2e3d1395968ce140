import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
  type AclEntry,
} from 'kafkajs';
import { KafkaServer } from '../../harness/kafka';
import { kafkaClient, readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { makeCertificates } from '../../helpers/certificates';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl } from '../../helpers/services';

const PASSWORD = 'relay-s3cret-pw';

/** The ACLs the README lists for the relay's principal: its topics (by prefix) and the dead-letter topic. */
function relayAcls(principal: string, topicPrefix: string, deadLetterTopic: string): AclEntry[] {
  const entry = (
    resourceName: string,
    resourcePatternType: ResourcePatternTypes,
    operation: AclOperationTypes,
  ): AclEntry => ({
    resourceType: AclResourceTypes.TOPIC,
    resourceName,
    resourcePatternType,
    principal,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  return [
    [topicPrefix, ResourcePatternTypes.PREFIXED],
    [deadLetterTopic, ResourcePatternTypes.LITERAL],
  ].flatMap(([name, pattern]) =>
    [AclOperationTypes.CREATE, AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE].map((op) =>
      entry(name as string, pattern as ResourcePatternTypes, op),
    ),
  );
}

// Its own broker with SSL (client certificates required) and SASL_SSL listeners and ACLs.
describe('relay: Kafka TLS, SASL and least-privilege ACLs', () => {
  const url = testDatabaseUrl();
  const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-tls-'));
  const certs = makeCertificates(dir);
  let kafka: KafkaServer;

  beforeAll(async () => {
    kafka = await KafkaServer.start({
      security: {
        keystorePem: certs.keystore,
        truststorePem: certs.ca,
        users: [
          { name: 'relay', password: PASSWORD },
          { name: 'nobody', password: PASSWORD },
        ],
        authorizer: true,
      },
    });
  });

  afterAll(async () => {
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a relay with `extra` against the secured broker and checks 3 events arrive. */
  async function relayDelivers(prefix: string, principal: string, extra: Record<string, string>) {
    const names = outboxNames(prefix);
    await createOutboxTable(url, names.table);
    const admin = kafkaClient([kafka.brokers]).admin();
    await admin.connect();
    await admin.createAcls({
      acl: relayAcls(principal, `${names.topicPrefix}.`, 'outbox.dead-letter'),
    });
    await admin.disconnect();
    const relay = new RelayProcess(relayEnv(names, { TOPIC_PARTITIONS: '2', ...extra }));
    try {
      await relay.waitUntilStreaming();
      const rows = [1, 2, 3].map((i) => outboxRow('vault', `v-${i}`, 'Opened', { i }));
      await withSql(url, (sql) => insertRows(sql, names.table, rows));
      const records = await readTopic([kafka.brokers], `${names.topicPrefix}.vault`, { count: 3 });
      expect(records.map((r) => r.headers.id).sort()).toEqual(rows.map((r) => r.id).sort());
      expect(await relay.stop()).toBe(0);
      // The password is never written to the logs, whatever the level (tests run at debug).
      expect(JSON.stringify(relay.logs) + relay.stderr).not.toContain(PASSWORD);
      return relay;
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  }

  it('publishes over mutual TLS with the CA, client certificate and key', async () => {
    const relay = await relayDelivers('mtls', 'User:CN=outbox-relay', {
      KAFKA_BROKERS: `127.0.0.1:${kafka.sslPort}`,
      KAFKA_TLS_CA_FILE: certs.ca,
      KAFKA_TLS_CERT_FILE: certs.clientCert,
      KAFKA_TLS_KEY_FILE: certs.clientKey,
    });
    expect(relay.logs.find((l) => l.msg === 'starting')?.kafkaSecurity).toBe('mTLS');
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])(
    'publishes over SASL_SSL with SASL %s',
    async (mechanism) => {
      const relay = await relayDelivers(`sasl_${mechanism.replace(/-/g, '')}`, 'User:relay', {
        KAFKA_BROKERS: `127.0.0.1:${kafka.saslPort}`,
        KAFKA_TLS_CA_FILE: certs.ca,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: 'relay',
        KAFKA_SASL_PASSWORD: PASSWORD,
      });
      expect(relay.logs.find((l) => l.msg === 'starting')?.kafkaSecurity).toBe(
        `TLS + SASL ${mechanism.toUpperCase()} as relay`,
      );
    },
  );

  it('fails start-up clearly on a wrong password, an untrusted broker, or a missing client certificate', async () => {
    const names = outboxNames('badauth');
    await createOutboxTable(url, names.table);
    const attempt = async (extra: Record<string, string>) => {
      const relay = new RelayProcess(relayEnv(names, { STARTUP_TIMEOUT_MS: '2000', ...extra }));
      const code = await relay.exited;
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(JSON.stringify(relay.logs)).not.toContain('wrong-password');
      return { code, fatal };
    };
    try {
      const wrong = await attempt({
        KAFKA_BROKERS: `127.0.0.1:${kafka.saslPort}`,
        KAFKA_TLS_CA_FILE: certs.ca,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'relay',
        KAFKA_SASL_PASSWORD: 'wrong-password',
      });
      expect(wrong.code).toBe(1);
      expect(wrong.fatal?.msg).toMatch(/cannot connect to Kafka.*(SASL|[Aa]uthentication)/);

      const untrusted = await attempt({
        KAFKA_BROKERS: `127.0.0.1:${kafka.saslPort}`,
        KAFKA_TLS: 'true',
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'relay',
        KAFKA_SASL_PASSWORD: PASSWORD,
      });
      expect(untrusted.code).toBe(1);
      expect(untrusted.fatal?.msg).toMatch(/cannot connect to Kafka.*certificate/i);

      const noClientCert = await attempt({
        KAFKA_BROKERS: `127.0.0.1:${kafka.sslPort}`,
        KAFKA_TLS_CA_FILE: certs.ca,
      });
      expect(noClientCert.code).toBe(1);
      expect(noClientCert.fatal?.msg).toMatch(/cannot connect to Kafka/);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('exactly-once: stops at once without the transactional-id ACLs, and publishes with the ones the README lists', async () => {
    const names = outboxNames('eos_acl');
    await createOutboxTable(url, names.table);
    const admin = kafkaClient([kafka.brokers]).admin();
    await admin.connect();
    const env = relayEnv(names, {
      KAFKA_BROKERS: `127.0.0.1:${kafka.saslPort}`,
      KAFKA_TLS_CA_FILE: certs.ca,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'relay',
      KAFKA_SASL_PASSWORD: PASSWORD,
      DELIVERY_GUARANTEE: 'exactly-once',
      POSITION_TOPIC: `${names.topicPrefix}.positions`,
      TOPIC_PARTITIONS: '2',
    });
    try {
      await admin.createAcls({
        acl: relayAcls('User:relay', `${names.topicPrefix}.`, 'outbox.dead-letter'),
      });
      const refused = new RelayProcess(env);
      const started = Date.now();
      expect(await refused.exited).toBe(1);
      // Retrying cannot grant ACLs: no waiting for STARTUP_TIMEOUT_MS (60 s).
      expect(Date.now() - started).toBeLessThan(30_000);
      const fatal = refused.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('KAFKA_AUTHORIZATION');
      expect(fatal?.msg).toContain(
        `Kafka refused the transactional id outbox-relay.${names.slot}.0 (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)`,
      );
      expect(fatal?.msg).toContain('Write and Describe on the transactional id');

      const allow = (
        resourceType: AclResourceTypes,
        resourceName: string,
        resourcePatternType: ResourcePatternTypes,
        operations: AclOperationTypes[],
      ): AclEntry[] =>
        operations.map((operation) => ({
          resourceType,
          resourceName,
          resourcePatternType,
          principal: 'User:relay',
          host: '*',
          operation,
          permissionType: AclPermissionTypes.ALLOW,
        }));
      await admin.createAcls({
        acl: [
          ...allow(
            AclResourceTypes.TRANSACTIONAL_ID,
            'outbox-relay.',
            ResourcePatternTypes.PREFIXED,
            [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE],
          ),
          ...allow(
            AclResourceTypes.TOPIC,
            `${names.topicPrefix}.positions`,
            ResourcePatternTypes.LITERAL,
            [AclOperationTypes.READ],
          ),
          ...allow(
            AclResourceTypes.GROUP,
            'outbox-relay.position.',
            ResourcePatternTypes.PREFIXED,
            [AclOperationTypes.READ],
          ),
        ],
      });
      const relay = new RelayProcess(env);
      try {
        await relay.waitUntilStreaming();
        const rows = [1, 2, 3].map((i) => outboxRow('vault', `v-${i}`, 'Opened', { i }));
        await withSql(url, (sql) => insertRows(sql, names.table, rows));
        const records = await readTopic([kafka.brokers], `${names.topicPrefix}.vault`, {
          count: 3,
        });
        expect(records.map((r) => r.headers.id).sort()).toEqual(rows.map((r) => r.id).sort());
      } finally {
        expect(await relay.stop()).toBe(0);
      }
    } finally {
      await admin.disconnect();
      await dropOutbox(url, names);
    }
  });

  it('stops at once with an authorization error when the principal lacks the ACLs', async () => {
    const names = outboxNames('noacl');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(
      relayEnv(names, {
        KAFKA_BROKERS: `127.0.0.1:${kafka.saslPort}`,
        KAFKA_TLS_CA_FILE: certs.ca,
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'nobody',
        KAFKA_SASL_PASSWORD: PASSWORD,
      }),
    );
    try {
      const started = Date.now();
      expect(await relay.exited).toBe(1);
      // Retrying cannot grant ACLs: no waiting for STARTUP_TIMEOUT_MS (60 s).
      expect(Date.now() - started).toBeLessThan(30_000);
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('KAFKA_AUTHORIZATION');
      expect(fatal?.msg).toMatch(/not authorized.*ACLs/);
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });
});
