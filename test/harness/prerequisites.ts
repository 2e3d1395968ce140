import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { HarnessError } from './errors';

/** Oldest PostgreSQL major the harness accepts: pgoutput with logical decoding messages needs 14. */
const MIN_PG_MAJOR = 14;
/** Kafka 4.x brokers need Java 17. */
const MIN_JAVA_MAJOR = 17;

const PG_TOOLS = ['initdb', 'pg_ctl', 'postgres'] as const;

function hasPgTools(dir: string): boolean {
  return PG_TOOLS.every((tool) => existsSync(join(dir, tool)));
}

function capture(cmd: string, args: string[]): string | undefined {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return `${result.stdout}${result.stderr}`;
}

/**
 * Finds PostgreSQL server binaries. Debian installs them off PATH, under
 * /usr/lib/postgresql/<major>/bin; `OUTBOX_TEST_PG_BINDIR` overrides the search.
 */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.OUTBOX_TEST_PG_BINDIR;
  if (override !== undefined && override !== '') {
    if (hasPgTools(override)) return override;
    throw new HarnessError(
      `OUTBOX_TEST_PG_BINDIR=${override} does not contain ${PG_TOOLS.join(', ')}`,
      'point it at the bin directory of a PostgreSQL server installation, or unset it',
    );
  }
  const candidates: string[] = [];
  const fromPgConfig = capture('pg_config', ['--bindir'])?.trim();
  if (fromPgConfig !== undefined) candidates.push(fromPgConfig);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot)
      .map(Number)
      .filter((major) => Number.isInteger(major) && major >= MIN_PG_MAJOR)
      .sort((a, b) => b - a);
    candidates.push(...majors.map((major) => join(debianRoot, String(major), 'bin')));
  }
  for (const dir of (env.PATH ?? '').split(':')) if (dir !== '') candidates.push(dir);
  const found = candidates.find(hasPgTools);
  if (found === undefined) {
    throw new HarnessError(
      `PostgreSQL server binaries (${PG_TOOLS.join(', ')}) were not found`,
      'install them (Debian: apt-get install postgresql-15) or set OUTBOX_TEST_PG_BINDIR to their directory',
    );
  }
  const version = capture(join(found, 'postgres'), ['--version']) ?? '';
  const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? NaN);
  if (!(major >= MIN_PG_MAJOR)) {
    throw new HarnessError(
      `PostgreSQL in ${found} is "${version.trim()}"; the harness needs ${MIN_PG_MAJOR} or newer`,
      'install a newer server (Debian: apt-get install postgresql-15) or set OUTBOX_TEST_PG_BINDIR',
    );
  }
  return found;
}

export interface UnprivilegedUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * initdb and postgres refuse to run as root. When we are root, they run as this user instead:
 * `OUTBOX_TEST_PG_USER`, else `postgres`, else `nobody`. Returns undefined when we are not root.
 */
export function unprivilegedUser(
  env: NodeJS.ProcessEnv = process.env,
): UnprivilegedUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (capture('runuser', ['--help']) === undefined) {
    throw new HarnessError(
      'running as root, and runuser (needed to start PostgreSQL as an unprivileged user) is missing',
      'install util-linux (Debian: apt-get install util-linux) or run the tests as a normal user',
    );
  }
  const names = [env.OUTBOX_TEST_PG_USER, 'postgres', 'nobody'].filter(
    (n): n is string => n !== undefined && n !== '',
  );
  for (const name of names) {
    const uid = Number(capture('id', ['-u', name])?.trim());
    const gid = Number(capture('id', ['-g', name])?.trim());
    if (Number.isInteger(uid) && Number.isInteger(gid) && uid !== 0) return { name, uid, gid };
  }
  throw new HarnessError(
    `running as root, and none of the users ${names.join(', ')} exists to run PostgreSQL`,
    'create an unprivileged user and set OUTBOX_TEST_PG_USER to its name',
  );
}

/** Checks that a Java runtime new enough for Kafka 4.x is on PATH. */
export function requireJava(): void {
  const out = capture('java', ['-version']);
  if (out === undefined) {
    throw new HarnessError(
      'Java was not found on PATH (Kafka needs Java 17 or newer)',
      'install it (Debian: apt-get install openjdk-17-jre-headless)',
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(out);
  const major = Number(match?.[1] === '1' ? match[2] : match?.[1]);
  if (!(major >= MIN_JAVA_MAJOR)) {
    throw new HarnessError(
      `Java on PATH is too old: ${out.split('\n')[0] ?? ''} (Kafka 4.x needs ${MIN_JAVA_MAJOR}+)`,
      'install a newer one (Debian: apt-get install openjdk-17-jre-headless) and put it first on PATH',
    );
  }
}

/** Checks that Maven is on PATH (needed only when the Kafka jars are not cached yet). */
export function requireMaven(): void {
  if (capture('mvn', ['-v']) === undefined) {
    throw new HarnessError(
      'Maven (mvn) was not found on PATH; it fetches the Kafka broker jars once',
      'install it (Debian: apt-get install maven)',
    );
  }
}
