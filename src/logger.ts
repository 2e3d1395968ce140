import pino, { type Logger } from 'pino';
import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';

export type { Logger };

/** JSON logs on stdout; modules take child loggers (`log.child({ module: 'kafka' })`). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: 'outbox-relay',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // bigint LSNs and similar values are written as text rather than crashing JSON.stringify.
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

/**
 * Routes kafkajs' own logs into ours. kafkajs logs every failed connection attempt as an error;
 * the publisher reports failures (with what it retries) itself, so those become debug lines.
 */
export function kafkaLogCreator(log: Logger): logCreator {
  const kafkaLog = log.child({ module: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      // We limit the idempotent producer's internal retries on purpose and retry ourselves.
      if (/Limiting retries for the idempotent producer/.test(message)) return;
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN)
        kafkaLog.debug(rest, message);
      else kafkaLog.trace(rest, message);
    };
}
