/**
 * DATABASE_URL read the way node-postgres reads it (pg-connection-string): a postgres:// URL
 * whose `host` and `port` query parameters, when present, take the place of the authority's,
 * and a host starting with `/` is the directory of PostgreSQL's Unix socket. libpq's spelling of
 * a socket connection, `postgres://user@/db?host=/var/run/postgresql` (credentials, no host),
 * is refused by WHATWG URL; it is read here with the host left to the parameter.
 */
export interface DatabaseAddress {
  protocol: string;
  /** Host name or address, or the directory of a Unix socket (starts with `/`); '' if none. */
  host: string;
  port: string;
  /** From the path; '' when the URL names none. */
  database: string;
}

const HOSTLESS = /^(postgres(?:ql)?:\/\/)[^/?#@]*@(?=[/?#]|$)/i;

/** Throws (a TypeError from URL) when `raw` is not a URL at all. */
export function parseDatabaseUrl(raw: string): DatabaseAddress {
  const url = new URL(raw.replace(HOSTLESS, '$1'));
  const host = url.searchParams.get('host') ?? decodeURIComponent(url.hostname);
  return {
    protocol: url.protocol,
    host,
    port: url.searchParams.get('port') || url.port || '5432',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
  };
}

const isSocketDirectory = (host: string): boolean => host.startsWith('/');

/** Where it points, for messages: host:port/database or the socket's path; never credentials. */
export function describeAddress({ host, port, database }: DatabaseAddress): string {
  return isSocketDirectory(host)
    ? `${host.replace(/\/$/, '')}/.s.PGSQL.${port} (database ${database || 'named as the user'})`
    : `${host || 'localhost'}:${port}/${database}`;
}
