import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../harness/exec';
import { readTopic } from '../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../helpers/outbox';
import { RelayProcess } from '../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../helpers/services';

const ROOT = join(__dirname, '..', '..');

// What users run is the npm package, installed with install scripts off (npm 11 skips a
// dependency's scripts unless allowed; pnpm and Yarn have similar rules): the relay must be the
// same there as in the checkout, fast produce path included.
describe('the npm package, installed with --ignore-scripts', () => {
  const names = outboxNames('packaged');
  let dir: string;

  afterAll(async () => {
    await dropOutbox(testDatabaseUrl(), names);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('runs with its fast produce path active and publishes events', async () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-relay-package-'));
    const packed = await run('npm', ['pack', '--pack-destination', dir, '--silent'], {
      cwd: ROOT,
      timeoutMs: 120_000,
    });
    expect(packed.code).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const project = join(dir, 'app');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      '{"name":"app","version":"1.0.0","private":true}\n',
    );
    const installed = await run(
      'npm',
      [
        'install',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        join(dir, tarball),
      ],
      { cwd: project, timeoutMs: 300_000 },
    );
    expect(installed.code).toBe(0);
    // Nothing of the old install-time patch: kafkajs is the registry's, byte for byte.
    const packageFiles = readdirSync(join(project, 'node_modules', 'outbox-relay'));
    expect(packageFiles).not.toContain('patches');

    await createOutboxTable(testDatabaseUrl(), names.table);
    const relay = new RelayProcess(
      relayEnv(names, { LOG_LEVEL: 'info' }),
      [],
      join(project, 'node_modules', 'outbox-relay', 'dist', 'cli.js'),
    );
    try {
      await relay.waitUntilStreaming();
      const status = await relay.status();
      expect(status.producePath).toBe('fast');
      expect(relay.logs.some((l) => l.producePath === 'fast' && l.level === 'info')).toBe(true);
      const rows = [1, 2, 3].map((n) => outboxRow('order', `o-${n}`, 'OrderPlaced', { n }));
      await withSql(testDatabaseUrl(), (sql) => insertRows(sql, names.table, rows));
      const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.order`, {
        count: 3,
      });
      expect(records.map((r) => r.headers.id).sort()).toEqual(rows.map((r) => r.id).sort());
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  }, 420_000);

  it('says why when the fast path cannot be in place (kafkajs loaded first)', async () => {
    const install = join(ROOT, 'dist', 'kafka', 'fast-path', 'install.js');
    const script = `require('kafkajs'); process.stdout.write(JSON.stringify(require(${JSON.stringify(install)}).fastPathStatus()))`;
    const probe = await run(process.execPath, ['-e', script], { cwd: ROOT, timeoutMs: 30_000 });
    expect(probe.code).toBe(0);
    const status = JSON.parse(probe.stdout) as { active: boolean; problems: string[] };
    expect(status.active).toBe(false);
    expect(status.problems.join(' ')).toMatch(/kafkajs was loaded before the fast path/);
  });
});
