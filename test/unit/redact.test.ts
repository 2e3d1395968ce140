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
});
