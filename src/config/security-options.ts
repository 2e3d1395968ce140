import { customOption, enumOption, optionalFile, optionalSecret, parseBoolean } from './option';

const fileOption = (env: string, description: string) =>
  optionalFile(env, 'Kafka security', description);
const secretOption = (env: string, description: string) =>
  optionalSecret(env, 'Kafka security', description);

/** TLS and SASL for the Kafka connection. PostgreSQL TLS goes in DATABASE_URL. */
export const SECURITY_OPTIONS = {
  kafkaTls: customOption({
    env: 'KAFKA_TLS',
    group: 'Kafka security',
    description:
      'Connect to the brokers with TLS. Turned on by any `KAFKA_TLS_*` file option; set `true` alone to trust the system CAs.',
    parse: parseBoolean,
    default: false,
  }),
  kafkaTlsCaFile: fileOption(
    'KAFKA_TLS_CA_FILE',
    "PEM file with the CA certificate(s) that signed the brokers' certificates.",
  ),
  kafkaTlsCertFile: fileOption(
    'KAFKA_TLS_CERT_FILE',
    'PEM client certificate for mutual TLS (with `KAFKA_TLS_KEY_FILE`).',
  ),
  kafkaTlsKeyFile: fileOption('KAFKA_TLS_KEY_FILE', 'PEM private key of the client certificate.'),
  kafkaTlsKeyPassword: secretOption(
    'KAFKA_TLS_KEY_PASSWORD',
    'Passphrase of an encrypted `KAFKA_TLS_KEY_FILE`. Never logged.',
  ),
  kafkaTlsRejectUnauthorized: customOption({
    env: 'KAFKA_TLS_REJECT_UNAUTHORIZED',
    group: 'Kafka security',
    description:
      "Verify the brokers' certificates and host names. `false` only for experiments: it lets anyone in the middle read the events.",
    parse: parseBoolean,
    default: true,
  }),
  kafkaSaslMechanism: enumOption({
    env: 'KAFKA_SASL_MECHANISM',
    group: 'Kafka security',
    description:
      'SASL authentication: `none`, `plain`, `scram-sha-256` or `scram-sha-512` (with `KAFKA_SASL_USERNAME` / `KAFKA_SASL_PASSWORD`). Use PLAIN only over TLS.',
    default: 'none',
    values: ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const,
  }),
  kafkaSaslUsername: customOption<string | undefined>({
    env: 'KAFKA_SASL_USERNAME',
    group: 'Kafka security',
    description: 'SASL user name.',
    parse: (raw) => raw.trim(),
    default: undefined,
    defaultText: '(none)',
  }),
  kafkaSaslPassword: secretOption('KAFKA_SASL_PASSWORD', 'SASL password. Never logged.'),
};
