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

/** A kafkajs log entry: its message and what kafkajs attached (e.g. `error`, `groupId`). */
export type KafkaLogEntry = { message: string } & Record<string, unknown>;

/**
 * kafkajs' log entries for whoever listens: some failures kafkajs reports only in its logs (which
 * broker refused to name a transaction coordinator, and why), not in the error it throws.
 */
export class KafkaLogTap {
  private readonly listeners = new Set<(entry: KafkaLogEntry) => void>();

  /** Calls `listener` with every entry until the returned function is called. */
  listen(listener: (entry: KafkaLogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(entry: KafkaLogEntry): void {
    for (const listener of this.listeners) listener(entry);
  }
}

/**
 * Routes kafkajs' own logs into ours. kafkajs logs every failed connection attempt as an error;
 * the publisher reports failures (with what it retries) itself, so those become debug lines.
 */
export function kafkaLogCreator(log: Logger, tap?: KafkaLogTap): logCreator {
  const kafkaLog = log.child({ module: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      tap?.emit(entry);
      const { message, ...rest } = entry;
      // We limit the idempotent producer's internal retries on purpose and retry ourselves.
      if (/Limiting retries for the idempotent producer/.test(message)) return;
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN)
        kafkaLog.debug(rest, message);
      else kafkaLog.trace(rest, message);
    };
}
