import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Selection } from '../replay/selection';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const USAGE = `Usage: outbox-relay [command] [--help | --version]

Publishes transactional-outbox events from PostgreSQL to Kafka by tailing the WAL.
Every command is configured by the same environment variables (see the README's option table).

Commands:
  start          run the relay (the default); needs DATABASE_URL and KAFKA_BROKERS
  init           print the SQL for the outbox table, publication and slot (--apply runs it)
  status         slot, lag, publication, connected instances and topics
  tail <topic>   print a topic's records readably (for when kafka-ui is not at hand)
  replay         re-publish outbox rows still in the table (by time, aggregate, type, SQL)

Run "outbox-relay <command> --help" for a command's options.
`;

const HELP = {
  start: `Usage: outbox-relay start

Runs the relay until SIGTERM/SIGINT. Configured only by environment variables; DATABASE_URL and
KAFKA_BROKERS are required. Exit codes: 0 stopped cleanly, 1 fatal error, 2 invalid configuration.
`,
  init: `Usage: outbox-relay init [--apply]

Prints the SQL that prepares the database for this configuration (OUTBOX_TABLE, OUTBOX_COLUMN_*,
OUTBOX_HEADER_COLUMNS, PUBLICATION_NAME, SLOT_NAME): the outbox table (not in table-less mode),
the publication and the replication slot. Every statement is idempotent.

  --apply   run the statements against DATABASE_URL (as a role that may create them)
`,
  status: `Usage: outbox-relay status [--json]

Shows the replication slot (confirmed position, lag, retained WAL, wal_status), the publication,
the outbox table, relay instances connected to the database, and the relay's topics (when
KAFKA_BROKERS is set). Exits 1 when something would stop the relay from working.

  --json    print the same as one JSON document
`,
  tail: `Usage: outbox-relay tail <topic> [--from-beginning] [--max N] [--json]

Prints the records of a topic as they arrive: partition, offset, timestamp, key, headers, value
(binary values such as Avro as base64). Needs KAFKA_BROKERS (and the KAFKA_TLS_* / KAFKA_SASL_*
options of a secured cluster). Uses a throw-away consumer group, deleted on exit.

  --from-beginning   start at the oldest record instead of new ones
  --max N            stop after N records
  --json             one JSON object per record
`,
  replay: `Usage: outbox-relay replay [selection] [--topic-template T] [--max-rate N] [--dry-run]

Re-publishes outbox rows that are still in the table, exactly as live streaming publishes them
(same event id, topic, key, partition, headers, value format) plus a header \`outbox.replay\`
naming the run. Reads one read-only snapshot in pages; never touches the replication slot, so it
can run while the relay streams. Same environment variables as start.

Selection (all optional, combined with AND):
  --from TIME            rows at or after TIME (ISO 8601, e.g. 2026-11-30T12:00:00Z)
  --to TIME              rows before TIME
                         (time = OUTBOX_COLUMN_TIMESTAMP, else the commit time when
                         track_commit_timestamp is on)
  --aggregate-type X     rows of this aggregate type
  --aggregate-id X       rows of this aggregate id
  --event-type X         rows of this event type
  --where 'SQL'          a predicate over the table's columns (read-only transaction)
  --limit N              at most N rows
  --order-by COLUMN      order of publication (default: OUTBOX_COLUMN_ORDER, else the commit
                         time where track_commit_timestamp is on, else OUTBOX_COLUMN_TIMESTAMP,
                         else the physical order)

  --topic-template T     publish to these topics instead (TOPIC_TEMPLATE placeholders)
  --max-rate N           at most N events per second
  --dry-run              print how many rows are selected and the first ones; publish nothing
`,
} as const;

/** What `replay` was asked for. */
export interface ReplayArgs extends Selection {
  topicTemplate?: string | undefined;
  maxRate?: number | undefined;
  dryRun: boolean;
}

export type CliAction =
  | { kind: 'exit'; code: number }
  | { kind: 'start' }
  | { kind: 'init'; apply: boolean }
  | { kind: 'status'; json: boolean }
  | { kind: 'tail'; topic: string; fromBeginning: boolean; max: number | undefined; json: boolean }
  | ({ kind: 'replay' } & ReplayArgs);

type Command = keyof typeof HELP;

/** Parses the command line: either an immediate exit code or the command to run. */
export function parseCli(argv: readonly string[], io: CliIo): CliAction {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`);
    return { kind: 'exit', code: 0 };
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = rest[0];
    io.out(topic !== undefined && topic in HELP ? HELP[topic as Command] : USAGE);
    return { kind: 'exit', code: 0 };
  }
  const command = (first ?? 'start') as Command;
  if (!(command in HELP)) {
    io.err(`outbox-relay: unknown command "${first}"\n\n${USAGE}`);
    return { kind: 'exit', code: 2 };
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(HELP[command]);
    return { kind: 'exit', code: 0 };
  }
  const usageError = (message: string): CliAction => {
    io.err(`outbox-relay ${command}: ${message}\n\n${HELP[command]}`);
    return { kind: 'exit', code: 2 };
  };
  const flags = new Set(rest.filter((a) => a.startsWith('--')));
  const known: Record<Command, string[]> = {
    start: [],
    init: ['--apply'],
    status: ['--json'],
    tail: ['--from-beginning', '--max', '--json'],
    replay: [], // flags with values: parseReplay checks them
  };
  const unknown = command === 'replay' ? [] : [...flags].filter((f) => !known[command].includes(f));
  if (unknown.length > 0) {
    return command === 'start'
      ? usageError(
          `takes no arguments (got ${rest.join(' ')}); configure it with environment variables`,
        )
      : usageError(`unknown option ${unknown.join(', ')}`);
  }
  switch (command) {
    case 'start':
      if (rest.length > 0)
        return usageError(
          `takes no arguments (got ${rest.join(' ')}); configure it with environment variables`,
        );
      return { kind: 'start' };
    case 'init':
      if (rest.length > flags.size) return usageError('takes no arguments besides --apply');
      return { kind: 'init', apply: flags.has('--apply') };
    case 'status':
      if (rest.length > flags.size) return usageError('takes no arguments besides --json');
      return { kind: 'status', json: flags.has('--json') };
    case 'replay': {
      const parsed = parseReplay(rest);
      return typeof parsed === 'string' ? usageError(parsed) : { kind: 'replay', ...parsed };
    }
    case 'tail': {
      let max: number | undefined;
      const positional: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        const arg = rest[i]!;
        if (arg === '--max') {
          const value = rest[++i];
          if (value === undefined || !/^\d+$/.test(value))
            return usageError('--max needs a whole number');
          max = Number(value);
        } else if (!arg.startsWith('--')) positional.push(arg);
      }
      if (positional.length !== 1) return usageError('needs exactly one topic');
      return {
        kind: 'tail',
        topic: positional[0]!,
        fromBeginning: flags.has('--from-beginning'),
        max,
        json: flags.has('--json'),
      };
    }
  }
}

const whole = (value: string): number | string =>
  /^\d{1,12}$/.test(value) && Number(value) > 0 ? Number(value) : 'needs a whole number above 0';
const time = (value: string): Date | string => {
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  return Number.isNaN(parsed.getTime())
    ? `needs an ISO 8601 time such as 2026-11-30T12:00:00Z, got "${value}"`
    : parsed;
};
const text = (value: string): string | string[] =>
  value.trim() === '' ? 'needs a value' : [value];

/** `replay`'s flags that take a value: which field each fills and how it is read. */
const REPLAY_VALUES: Record<string, [keyof ReplayArgs, (value: string) => unknown]> = {
  '--from': ['from', time],
  '--to': ['to', time],
  '--aggregate-type': ['aggregateType', text],
  '--aggregate-id': ['aggregateId', text],
  '--event-type': ['eventType', text],
  '--where': ['where', text],
  '--limit': ['limit', whole],
  '--order-by': ['orderBy', text],
  '--topic-template': ['topicTemplate', text],
  '--max-rate': ['maxRate', whole],
};

/** Reads replay's flags (`--flag value` or `--flag=value`); a usage problem as a string. */
function parseReplay(args: readonly string[]): ReplayArgs | string {
  const out: ReplayArgs = { dryRun: false };
  const fields = out as unknown as Record<string, unknown>;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--dry-run') {
      out.dryRun = true;
      continue;
    }
    const [flag = '', inline] = arg.startsWith('--') ? arg.split(/=(.*)/s, 2) : [arg];
    const spec = REPLAY_VALUES[flag];
    if (spec === undefined) return `unexpected argument ${arg}`;
    const raw = inline ?? args[++i];
    if (raw === undefined) return `${flag} needs a value`;
    const value = spec[1](raw);
    if (typeof value === 'string') return `${flag} ${value}`;
    fields[spec[0]] = Array.isArray(value) ? value[0] : value;
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to)
    return '--from must be before --to';
  return out;
}
