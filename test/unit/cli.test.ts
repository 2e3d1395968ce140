import { readFileSync } from 'node:fs';
import { parseCli } from '../../src/cli';

function capture(argv: string[]) {
  let out = '';
  let err = '';
  const action = parseCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code: action.kind === 'exit' ? action.code : 'start', out, err };
}

describe('outbox-relay CLI', () => {
  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(capture(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
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
});
