import { readFileSync } from 'node:fs';
import { runCli } from '../../src/cli';

function capture(argv: string[]) {
  let out = '';
  let err = '';
  const code = runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
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

  it('fails on an unknown command, naming it', () => {
    const { code, err } = capture(['frobnicate']);
    expect(code).toBe(2);
    expect(err).toContain('unknown command "frobnicate"');
  });
});
