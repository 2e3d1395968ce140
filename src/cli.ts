#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const USAGE = `Usage: outbox-relay [start] [--help | --version]

Publishes transactional-outbox events from PostgreSQL to Kafka by tailing the WAL.

Commands:
  start     run the relay (the default); configured by environment variables,
            see the README's option table (DATABASE_URL and KAFKA_BROKERS are required)
`;

export type CliAction = { kind: 'exit'; code: number } | { kind: 'start' };

/** Parses the command line: either an immediate exit code or the command to run. */
export function parseCli(argv: readonly string[], io: CliIo): CliAction {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`);
    return { kind: 'exit', code: 0 };
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(USAGE);
    return { kind: 'exit', code: 0 };
  }
  if (first === undefined || first === 'start') {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(USAGE);
      return { kind: 'exit', code: 0 };
    }
    if (rest.length > 0) {
      io.err(
        `outbox-relay: start takes no arguments (got ${rest.join(' ')}); configure it with environment variables\n`,
      );
      return { kind: 'exit', code: 2 };
    }
    return { kind: 'start' };
  }
  io.err(`outbox-relay: unknown command "${first}"\n\n${USAGE}`);
  return { kind: 'exit', code: 2 };
}

async function main(): Promise<void> {
  const action = parseCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
  if (action.kind === 'exit') {
    process.exitCode = action.code;
    return;
  }
  const { startRelay } = await import('./main');
  process.exitCode = await startRelay(process.env, version());
}

if (require.main === module) void main();
