import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { configInvalid } from '../errors';

/** The TLS and SASL options (KAFKA_TLS_* / KAFKA_SASL_*), as the composition root hands them in. */
export interface KafkaSecurityOptions {
  kafkaTls: boolean;
  kafkaTlsCaFile?: string | undefined;
  kafkaTlsCertFile?: string | undefined;
  kafkaTlsKeyFile?: string | undefined;
  kafkaTlsKeyPassword?: string | undefined;
  kafkaTlsRejectUnauthorized: boolean;
  kafkaSaslMechanism: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  kafkaSaslUsername?: string | undefined;
  kafkaSaslPassword?: string | undefined;
}

export interface KafkaSecurity {
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
}

/**
 * The TLS and SASL settings of the Kafka client, from the KAFKA_TLS_* / KAFKA_SASL_* options.
 * Files are read here, once, so a missing or unreadable file fails start-up with its option name.
 */
export function kafkaSecurity(config: KafkaSecurityOptions): KafkaSecurity {
  const problems: string[] = [];
  const read = (env: string, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${env} cannot be read: ${(err as Error).message}`);
      return undefined;
    }
  };
  const ca = read('KAFKA_TLS_CA_FILE', config.kafkaTlsCaFile);
  const cert = read('KAFKA_TLS_CERT_FILE', config.kafkaTlsCertFile);
  const key = read('KAFKA_TLS_KEY_FILE', config.kafkaTlsKeyFile);
  if (problems.length > 0) throw configInvalid(problems);
  const security: KafkaSecurity = {};
  if (tlsEnabled(config)) {
    const options: ConnectionOptions = {
      rejectUnauthorized: config.kafkaTlsRejectUnauthorized,
    };
    if (ca !== undefined) options.ca = [ca];
    if (cert !== undefined) options.cert = cert;
    if (key !== undefined) options.key = key;
    if (config.kafkaTlsKeyPassword !== undefined) options.passphrase = config.kafkaTlsKeyPassword;
    security.ssl = options;
  }
  const username = config.kafkaSaslUsername ?? '';
  const password = config.kafkaSaslPassword ?? '';
  switch (config.kafkaSaslMechanism) {
    case 'plain':
      security.sasl = { mechanism: 'plain', username, password };
      break;
    case 'scram-sha-256':
      security.sasl = { mechanism: 'scram-sha-256', username, password };
      break;
    case 'scram-sha-512':
      security.sasl = { mechanism: 'scram-sha-512', username, password };
      break;
    case 'none':
      break;
  }
  return security;
}

function tlsEnabled(config: KafkaSecurityOptions): boolean {
  return (
    config.kafkaTls || config.kafkaTlsCaFile !== undefined || config.kafkaTlsCertFile !== undefined
  );
}

/** What the logs may say about the Kafka connection's security: never a secret. */
export function describeKafkaSecurity(config: KafkaSecurityOptions): string {
  const parts = [
    tlsEnabled(config) ? (config.kafkaTlsCertFile !== undefined ? 'mTLS' : 'TLS') : 'plaintext',
  ];
  if (config.kafkaSaslMechanism !== 'none')
    parts.push(
      `SASL ${config.kafkaSaslMechanism.toUpperCase()} as ${config.kafkaSaslUsername ?? ''}`,
    );
  return parts.join(' + ');
}
