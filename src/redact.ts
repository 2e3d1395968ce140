import { describeAddress, parseDatabaseUrl } from './config/database-url';

/** A connection string safe to log: the password (if any) replaced by "***". */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const key of ['password', 'sslpassword']) {
      if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return '(unparseable connection string)';
  }
}

/** Where a connection string points, for messages: host:port/database or the socket; never credentials. */
export function describeDatabase(url: string): string {
  try {
    return describeAddress(parseDatabaseUrl(url));
  } catch {
    return '(unparseable connection string)';
  }
}
