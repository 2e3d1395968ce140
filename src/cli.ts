#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const USAGE = `Usage: outbox-relay [--help | --version]

Publishes transactional-outbox events from PostgreSQL to Kafka by tailing the WAL.
Commands are added as they are built; see the README for what this version offers.
`;

/** Parses the command line and returns the process exit code. */
export function runCli(argv: readonly string[], io: CliIo): number {
  const [first] = argv;
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(USAGE);
    return first === undefined ? 2 : 0;
  }
  io.err(`outbox-relay: unknown command "${first}"\n\n${USAGE}`);
  return 2;
}

if (require.main === module) {
  process.exitCode = runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
}
