import type { CliAction, CliIo } from './args';
import { describeError } from '../errors';
import { createLogger } from '../logger';
import { bootstrap, EXIT, hasAddress, type Bootstrap } from './bootstrap';
import { applyInit, initScript } from './init';
import { databaseStatus, formatStatus, topicStatus, type Status } from './status';
import { runReplay } from './replay';
import { tailTopic } from './tail';

type CommandAction = Exclude<CliAction, { kind: 'exit' } | { kind: 'start' }>;

/** Runs init, status or tail; returns the exit code (0 ok, 1 failed, 2 bad configuration). */
export async function runCommand(
  action: CommandAction,
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const needs =
    action.kind === 'tail'
      ? (['KAFKA_BROKERS'] as const)
      : action.kind === 'replay'
        ? action.dryRun
          ? (['DATABASE_URL'] as const)
          : (['DATABASE_URL', 'KAFKA_BROKERS'] as const)
        : action.kind === 'status' || (action.kind === 'init' && action.apply)
          ? (['DATABASE_URL'] as const)
          : ([] as const);
  let setup: Bootstrap;
  try {
    setup = bootstrap(env, needs);
  } catch (err) {
    io.err(`outbox-relay ${action.kind}: ${describeError(err)}\n`);
    return EXIT.CONFIG;
  }
  const { config } = setup;
  // kafkajs' own logs only when asked for (they would interleave with the output otherwise).
  const log = createLogger(
    env.LOG_LEVEL === undefined ? 'silent' : config.logLevel,
    process.stderr,
  );
  try {
    switch (action.kind) {
      case 'init': {
        if (!action.apply) {
          io.out(initScript(config));
          return EXIT.OK;
        }
        for (const line of await applyInit(config)) io.out(`${line}\n`);
        io.out('done\n');
        return EXIT.OK;
      }
      case 'status': {
        const base = await databaseStatus(config);
        let topics: Status['topics'] = null;
        if (hasAddress(env, 'KAFKA_BROKERS')) {
          const admin = setup.kafka(log).admin();
          try {
            await admin.connect();
            topics = await topicStatus(admin, config);
          } catch (err) {
            topics = { error: describeError(err) };
          } finally {
            await admin.disconnect().catch(() => undefined);
          }
        }
        const status: Status = { ...base, topics };
        io.out(action.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        return status.problems.length === 0 ? EXIT.OK : EXIT.FATAL;
      }
      case 'replay':
        return await withStopSignal((signal) =>
          runReplay(
            action,
            config,
            () => setup.kafka(log),
            log,
            { ...io, isTty: process.stderr.isTTY === true },
            signal,
          ),
        );
      case 'tail':
        await withStopSignal((signal) => tailTopic(setup.kafka(log), action, io.out, signal));
        return EXIT.OK;
    }
  } catch (err) {
    io.err(`outbox-relay ${action.kind}: ${describeError(err)}\n`);
    return EXIT.FATAL;
  }
}

/** Runs `fn` with a signal that SIGINT or SIGTERM aborts (the command then ends cleanly). */
async function withStopSignal<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
