import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { describeKafkaSecurity, kafkaSecurity } from '../../../src/kafka/security';

const minimal = { DATABASE_URL: 'postgres://relay@db/app', KAFKA_BROKERS: 'k1:9093' };

describe('kafkaSecurity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-security-'));
  const ca = join(dir, 'ca.pem');
  const cert = join(dir, 'client.pem');
  const key = join(dir, 'client.key');
  writeFileSync(ca, 'CA PEM');
  writeFileSync(cert, 'CERT PEM');
  writeFileSync(key, 'KEY PEM');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is plaintext without options', () => {
    const config = loadConfig(minimal);
    expect(kafkaSecurity(config)).toEqual({});
    expect(describeKafkaSecurity(config)).toBe('plaintext');
  });

  it('turns TLS on with the CA file and reads the client certificate and key', () => {
    const config = loadConfig({
      ...minimal,
      KAFKA_TLS_CA_FILE: ca,
      KAFKA_TLS_CERT_FILE: cert,
      KAFKA_TLS_KEY_FILE: key,
      KAFKA_TLS_KEY_PASSWORD: 'pw',
    });
    expect(kafkaSecurity(config)).toEqual({
      ssl: {
        rejectUnauthorized: true,
        ca: ['CA PEM'],
        cert: 'CERT PEM',
        key: 'KEY PEM',
        passphrase: 'pw',
      },
    });
    expect(describeKafkaSecurity(config)).toBe('mTLS');
  });

  it('maps each SASL mechanism and never describes the password', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      const config = loadConfig({
        ...minimal,
        KAFKA_TLS: 'true',
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: 'relay',
        KAFKA_SASL_PASSWORD: 'hunter2',
      });
      expect(kafkaSecurity(config)).toEqual({
        ssl: { rejectUnauthorized: true },
        sasl: { mechanism, username: 'relay', password: 'hunter2' },
      });
      expect(describeKafkaSecurity(config)).toBe(`TLS + SASL ${mechanism.toUpperCase()} as relay`);
    }
  });

  it('names the option of a file it cannot read', () => {
    const config = loadConfig({ ...minimal, KAFKA_TLS_CA_FILE: join(dir, 'missing.pem') });
    expect(() => kafkaSecurity(config)).toThrow(/KAFKA_TLS_CA_FILE cannot be read: ENOENT/);
  });
});
