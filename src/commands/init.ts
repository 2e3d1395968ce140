import type { Config } from '../config/load';
import { withDatabase } from '../relay/database';

import { quoteIdentifier as ident } from '../table-name';
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * The SQL that prepares a database for the relay with this configuration: the outbox table
 * (unless table-less), the publication, and the slot. Each statement is idempotent and runs on
 * its own (a slot cannot be created in a transaction that has written).
 */
export function initStatements(config: Config): string[] {
  const { schema } = config.outboxTable;
  const table = config.outboxTable.quoted();
  const statements: string[] = [];
  const tableless = config.messagePrefix !== undefined;
  if (!tableless) {
    const columns = [
      `${ident(config.columnId)} uuid PRIMARY KEY`,
      `${ident(config.columnAggregateType)} text NOT NULL`,
      `${ident(config.columnAggregateId)} text NOT NULL`,
      `${ident(config.columnType)} text NOT NULL`,
      `${ident(config.columnPayload)} jsonb`,
    ];
    if (config.columnTimestamp !== undefined)
      columns.push(`${ident(config.columnTimestamp)} timestamptz NOT NULL DEFAULT now()`);
    const taken = new Set(columns.map((c) => c.split(' ')[0]));
    for (const { column } of config.headerColumns)
      if (!taken.has(ident(column))) columns.push(`${ident(column)} text`);
    if (schema !== 'public') statements.push(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    statements.push(`CREATE TABLE IF NOT EXISTS ${table} (\n  ${columns.join(',\n  ')}\n)`);
  }
  const publication = ident(config.publicationName);
  const create = tableless
    ? `CREATE PUBLICATION ${publication} WITH (publish = 'insert')`
    : `CREATE PUBLICATION ${publication} FOR TABLE ${table} WITH (publish = 'insert')`;
  statements.push(
    `DO $init$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ${literal(config.publicationName)}) THEN\n    ${create};\n  END IF;\nEND $init$`,
  );
  statements.push(
    `SELECT slot_name, lsn FROM pg_create_logical_replication_slot(${literal(config.slotName)}, 'pgoutput')\n  WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${literal(config.slotName)})`,
  );
  return statements;
}

export function initScript(config: Config): string {
  const header = [
    `-- outbox-relay init for ${config.outboxTable.qualified()}: ${config.messagePrefix === undefined ? 'outbox table, ' : ''}publication ${config.publicationName}, slot ${config.slotName}.`,
    '-- Idempotent. Run the statements one by one (not in one transaction): a replication slot',
    '-- cannot be created in a transaction that has written. `outbox-relay init --apply` does so.',
  ];
  return `${header.join('\n')}\n\n${initStatements(config)
    .map((s) => `${s};`)
    .join('\n\n')}\n`;
}

/** Runs the statements against DATABASE_URL; returns what it did, one line per statement. */
export async function applyInit(config: Config): Promise<string[]> {
  return withDatabase(config.databaseUrl, async (sql) => {
    const done: string[] = [];
    for (const statement of initStatements(config)) {
      const result = await sql.query(statement);
      done.push(
        `${statement.split('\n')[0]!.replace(/ \($/, '')} -> ${result.command} ${result.rowCount ?? ''}`.trim(),
      );
    }
    return done;
  });
}
