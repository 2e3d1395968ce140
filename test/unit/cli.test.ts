import { readFileSync } from 'node:fs';
import { parseCli } from '../../src/commands/args';

function capture(argv: string[]) {
  let out = '';
  let err = '';
  const action = parseCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code: action.kind === 'exit' ? action.code : action.kind, action, out, err };
}

describe('outbox-relay CLI', () => {
  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(capture(['--version'])).toMatchObject({ code: 0, out: `${pkg.version}\n`, err: '' });
  });

  it('prints usage for --help', () => {
    const { code, out } = capture(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: outbox-relay/);
  });

  it('starts the relay by default and for "start"', () => {
    expect(capture([]).code).toBe('start');
    expect(capture(['start']).code).toBe('start');
  });

  it('refuses arguments to start: configuration is by environment', () => {
    const { code, err } = capture(['start', '--slot', 'x']);
    expect(code).toBe(2);
    expect(err).toContain('environment variables');
  });

  it('fails on an unknown command, naming it', () => {
    const { code, err } = capture(['frobnicate']);
    expect(code).toBe(2);
    expect(err).toContain('unknown command "frobnicate"');
  });

  it('parses init, status and tail with their options', () => {
    expect(capture(['init']).action).toEqual({ kind: 'init', apply: false });
    expect(capture(['init', '--apply']).action).toEqual({ kind: 'init', apply: true });
    expect(capture(['status', '--json']).action).toEqual({ kind: 'status', json: true });
    expect(capture(['tail', 'orders', '--max', '5', '--from-beginning']).action).toEqual({
      kind: 'tail',
      topic: 'orders',
      fromBeginning: true,
      max: 5,
      json: false,
    });
  });

  it("prints each command's help, and refuses what a command does not take", () => {
    for (const command of ['start', 'init', 'status', 'tail']) {
      const { code, out } = capture([command, '--help']);
      expect(code).toBe(0);
      expect(out).toMatch(new RegExp(`^Usage: outbox-relay ${command}`));
      expect(capture(['help', command]).out).toBe(out);
    }
    expect(capture(['tail']).err).toContain('needs exactly one topic');
    expect(capture(['tail', 't', '--max', 'ten']).err).toContain('--max needs a whole number');
    expect(capture(['init', '--force']).err).toContain('unknown option --force');
    expect(capture(['status', 'extra']).code).toBe(2);
  });

  it('parses replay selections, both --flag value and --flag=value', () => {
    expect(
      capture([
        'replay',
        '--from',
        '2026-11-30T12:00:00Z',
        '--to=2026-11-30T13:00:00Z',
        '--aggregate-id',
        'a-1',
        '--where',
        "type = 'X' and n > 1",
        '--limit',
        '10',
        '--max-rate=500',
        '--dry-run',
      ]).action,
    ).toEqual({
      kind: 'replay',
      from: new Date('2026-11-30T12:00:00Z'),
      to: new Date('2026-11-30T13:00:00Z'),
      aggregateId: 'a-1',
      where: "type = 'X' and n > 1",
      limit: 10,
      maxRate: 500,
      dryRun: true,
    });
  });

  it.each([
    [['--since', 'x'], 'unexpected argument --since'],
    [['--from', 'yesterday'], '--from needs an ISO 8601 time'],
    [['--limit', '0'], '--limit needs a whole number above 0'],
    [['--max-rate'], '--max-rate needs a value'],
    [['--where', ' '], '--where needs a value'],
    [['--from', '2026-12-01', '--to', '2026-11-01'], '--from must be before --to'],
  ])('refuses replay %j', (args, message) => {
    const { code, err } = capture(['replay', ...args]);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(err).toContain('Usage: outbox-relay replay');
  });
});
