import { describeDatabase, redactUrl } from '../../src/redact';

describe('redaction', () => {
  it('hides passwords in connection strings', () => {
    expect(redactUrl('postgres://relay:s3cret@db:5432/app?sslmode=require')).toBe(
      'postgres://relay:***@db:5432/app?sslmode=require',
    );
    expect(redactUrl('postgres://db/app?password=s3cret')).not.toContain('s3cret');
  });

  it('describes where a database is without credentials', () => {
    expect(describeDatabase('postgres://relay:s3cret@db.internal:6543/app')).toBe(
      'db.internal:6543/app',
    );
    expect(describeDatabase('postgres://relay@db/app')).toBe('db:5432/app');
  });

  it('describes a Unix socket by its path, in every spelling node-postgres reads', () => {
    const socket = '/var/run/postgresql/.s.PGSQL.5433 (database app)';
    // libpq's: credentials and no host (which WHATWG URL alone refuses)
    expect(
      describeDatabase('postgres://relay:s3cret@/app?host=/var/run/postgresql&port=5433'),
    ).toBe(socket);
    expect(describeDatabase('postgres:///app?host=/var/run/postgresql&port=5433')).toBe(socket);
    expect(describeDatabase('postgres://relay@%2Fvar%2Frun%2Fpostgresql:5433/app')).toBe(socket);
    // the host parameter wins over the authority's host, as in pg
    expect(describeDatabase('postgres://relay@db:5433/app?host=/var/run/postgresql')).toBe(socket);
    expect(describeDatabase('postgres://relay@/?host=/tmp')).toBe(
      '/tmp/.s.PGSQL.5432 (database named as the user)',
    );
  });
});
