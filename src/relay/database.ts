import { Client } from 'pg';
import { describeError, RelayError } from '../errors';
import { describeDatabase } from '../redact';

/** Runs `fn` on a short-lived ordinary connection (checks and set-up, never the stream). */
export async function withDatabase<T>(
  databaseUrl: string,
  fn: (sql: Client) => Promise<T>,
): Promise<T> {
  const sql = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  sql.on('error', () => undefined);
  try {
    await sql.connect();
  } catch (err) {
    throw pgConnectError(err, databaseUrl);
  }
  try {
    return await fn(sql);
  } finally {
    await sql.end().catch(() => undefined);
  }
}

/** Network failures are retriable; wrong password or database are not. */
export function pgConnectError(err: unknown, url: string): RelayError {
  const code = (err as { code?: unknown }).code;
  const where = describeDatabase(url);
  const message = describeError(err);
  if (code === '28P01' || code === '28000') {
    return new RelayError(
      'PG_PERMISSION',
      `PostgreSQL at ${where} rejected the credentials: ${message}; check DATABASE_URL and pg_hba.conf`,
      { cause: err },
    );
  }
  if (code === '3D000') {
    return new RelayError(
      'PG_UNREACHABLE',
      `PostgreSQL at ${where}: ${message}; check the database name in DATABASE_URL`,
      { cause: err },
    );
  }
  return new RelayError('PG_UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${message}`, {
    retriable: true,
    cause: err,
  });
}
