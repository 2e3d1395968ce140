import { loadConfig } from '../../../src/config/load';
import { progressLine } from '../../../src/commands/replay';
import { selectionSql } from '../../../src/replay/selection';

const env = { DATABASE_URL: 'postgres://u@h/db', KAFKA_BROKERS: 'k:9092' };

describe('replay selection', () => {
  it('binds every value as a parameter and brackets the --where predicate', () => {
    const config = loadConfig({ ...env, OUTBOX_COLUMN_TIMESTAMP: 'occurred_at' });
    const from = new Date('2026-11-30T12:00:00Z');
    const sql = selectionSql(
      config,
      { from, aggregateType: "o'rder", eventType: 'Placed', where: 'a = 1 or b = 2' },
      false,
    );
    expect(sql.where).toBe(
      'where t."occurred_at" >= $1 and t."aggregatetype" = $2 and t."type" = $3 and (a = 1 or b = 2)',
    );
    expect(sql.params).toEqual([from, "o'rder", 'Placed']);
    expect(sql.orderBy).toBe('order by t."occurred_at", t.ctid');
  });

  it('uses the commit time when there is no timestamp column and track_commit_timestamp is on', () => {
    const config = loadConfig(env);
    const to = new Date('2026-11-30T12:00:00Z');
    expect(selectionSql(config, { to }, true).where).toBe(
      'where pg_xact_commit_timestamp(t.xmin) < $1',
    );
    expect(selectionSql(config, {}, true)).toMatchObject({
      where: 'where true',
      orderBy: 'order by pg_xact_commit_timestamp(t.xmin), t.ctid',
    });
    expect(selectionSql(config, {}, false)).toMatchObject({
      orderBy: '',
      orderedBy: 'physical order (ctid)',
    });
    expect(() => selectionSql(config, { to }, false)).toThrow(
      '--from and --to need the row time: set OUTBOX_COLUMN_TIMESTAMP, or turn on track_commit_timestamp',
    );
  });

  it('orders by --order-by, else OUTBOX_COLUMN_ORDER, else the commit time, else the timestamp column', () => {
    const config = loadConfig({
      ...env,
      OUTBOX_COLUMN_ORDER: 'seq',
      OUTBOX_COLUMN_TIMESTAMP: 'at',
    });
    expect(selectionSql(config, { orderBy: 'other' }, true).orderBy).toBe(
      'order by t."other", t.ctid',
    );
    expect(selectionSql(config, {}, true).orderBy).toBe('order by t."seq", t.ctid');
    const timestamp = loadConfig({ ...env, OUTBOX_COLUMN_TIMESTAMP: 'at' });
    expect(selectionSql(timestamp, {}, false).orderBy).toBe('order by t."at", t.ctid');
  });

  it('shows progress with rate and ETA', () => {
    expect(progressLine({ selected: 1000, published: 250, deadLettered: 0, elapsedMs: 1000 })).toBe(
      '[#####...............]  25%  250/1000  250 ev/s  ETA 3 s',
    );
    expect(progressLine({ selected: 0, published: 0, deadLettered: 0, elapsedMs: 0 })).toContain(
      '100%',
    );
  });
});
