import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors';
import { reapOnExit, run, tail } from '../harness/exec';
import { cacheDir, mavenErrors } from '../harness/kafka-jars';
import { freePort } from '../harness/ports';
import { requireJava, requireMaven } from '../harness/prerequisites';
import { peakRss } from '../helpers/relay-process';

/** The newest Debezium Server 3.x distribution Maven Central served here (3.1+ were refused). */
export const DEBEZIUM_VERSION = '3.0.8.Final';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/**
 * Debezium Server's distribution (io.debezium:debezium-server-dist, tar.gz, ~550 MB), fetched
 * with Maven once and unpacked into the cache. A baseline for the benchmark, not product code.
 */
export async function ensureDebezium(): Promise<string> {
  const home = join(cacheDir(), `debezium-server-${DEBEZIUM_VERSION}`);
  if (existsSync(join(home, 'lib'))) return home;
  requireJava();
  requireMaven();
  mkdirSync(cacheDir(), { recursive: true });
  const work = mkdtempSync(join(cacheDir(), 'debezium-download-'));
  try {
    const fetched = await run(
      'mvn',
      [
        '-B',
        '-q',
        `${DEPENDENCY_PLUGIN}:copy`,
        `-Dartifact=io.debezium:debezium-server-dist:${DEBEZIUM_VERSION}:tar.gz`,
        `-DoutputDirectory=${work}`,
      ],
      { timeoutMs: 20 * 60_000 },
    );
    if (fetched.code !== 0) {
      throw new HarnessError(
        `fetching Debezium Server ${DEBEZIUM_VERSION} with Maven failed:\n${mavenErrors(fetched.stdout + fetched.stderr)}`,
      );
    }
    const unpacked = await run(
      'tar',
      ['xzf', join(work, `debezium-server-dist-${DEBEZIUM_VERSION}.tar.gz`), '-C', work],
      { timeoutMs: 10 * 60_000 },
    );
    if (unpacked.code !== 0)
      throw new HarnessError(`unpacking Debezium Server failed:\n${tail(unpacked.stderr)}`);
    rmSync(join(work, `debezium-server-dist-${DEBEZIUM_VERSION}.tar.gz`), { force: true });
    renameSync(join(work, 'debezium-server'), home);
    return home;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Debezium Server 3.x is built for Java 21 (class file 65). */
const DEBEZIUM_JAVA = 21;

/**
 * A `java` of version 21 or newer: DEBEZIUM_JAVA_HOME, JAVA_HOME, then the JDKs under
 * /usr/lib/jvm (Debian's layout; this machine has Temurin 25 there beside the default 17).
 */
export function debeziumJava(): string {
  const candidates = [
    process.env.DEBEZIUM_JAVA_HOME,
    process.env.JAVA_HOME,
    ...(existsSync('/usr/lib/jvm')
      ? readdirSync('/usr/lib/jvm').map((d) => join('/usr/lib/jvm', d))
      : []),
  ].filter((d): d is string => d !== undefined && d !== '');
  for (const home of candidates) {
    const java = join(home, 'bin', 'java');
    if (!existsSync(java)) continue;
    const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
    const major = Number(/version "(\d+)/.exec(probe.stderr)?.[1] ?? 0);
    if (major >= DEBEZIUM_JAVA) return java;
  }
  throw new HarnessError(
    `Debezium Server ${DEBEZIUM_VERSION} needs Java ${DEBEZIUM_JAVA} or newer: install one (e.g. Debian's openjdk-21-jre-headless) or point DEBEZIUM_JAVA_HOME at it, or run the bench with --no-debezium`,
  );
}

export interface DebeziumSource {
  pgPort: number;
  slot: string;
  publication: string;
  table: string;
  /** Topic for the routed events (the Outbox Event Router's route.topic.replacement). */
  topic: string;
  brokers: string;
}

/**
 * Debezium Server with the PostgreSQL connector (pgoutput, existing slot and publication, no
 * snapshot) and the Outbox Event Router, publishing to Kafka: the same job as the relay.
 */
export class DebeziumServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly exited: Promise<void>,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(home: string, source: DebeziumSource): Promise<DebeziumServer> {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-debezium-'));
    mkdirSync(join(dir, 'config'));
    const [prefix] = source.topic.split('.bench');
    const properties = {
      'debezium.sink.type': 'kafka',
      'debezium.sink.kafka.producer.bootstrap.servers': source.brokers,
      'debezium.sink.kafka.producer.key.serializer':
        'org.apache.kafka.common.serialization.StringSerializer',
      'debezium.sink.kafka.producer.value.serializer':
        'org.apache.kafka.common.serialization.StringSerializer',
      // The same delivery settings as the relay: acks=all, idempotent.
      'debezium.sink.kafka.producer.acks': 'all',
      'debezium.sink.kafka.producer.enable.idempotence': 'true',
      'debezium.source.connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'debezium.source.offset.storage.file.filename': join(dir, 'offsets.dat'),
      'debezium.source.offset.flush.interval.ms': '1000',
      'debezium.source.database.hostname': '127.0.0.1',
      'debezium.source.database.port': String(source.pgPort),
      'debezium.source.database.user': 'postgres',
      'debezium.source.database.password': 'unused',
      'debezium.source.database.dbname': 'postgres',
      'debezium.source.topic.prefix': `${prefix}_dbz`,
      'debezium.source.plugin.name': 'pgoutput',
      'debezium.source.slot.name': source.slot,
      'debezium.source.publication.name': source.publication,
      'debezium.source.publication.autocreate.mode': 'disabled',
      'debezium.source.table.include.list': `public.${source.table}`,
      'debezium.source.snapshot.mode': 'no_data',
      'debezium.transforms': 'outbox',
      'debezium.transforms.outbox.type': 'io.debezium.transforms.outbox.EventRouter',
      'debezium.transforms.outbox.route.topic.replacement': source.topic.replace(
        '.bench',
        // Quarkus' configuration expands $-braces itself (here: to null); a backslash, escaped
        // once more for the properties format, keeps it literal for the Outbox Event Router.
        '.' + '\\\\' + '${routedByValue}',
      ),
      'debezium.format.key': 'json',
      'debezium.format.value': 'json',
      'debezium.format.key.schemas.enable': 'false',
      'debezium.format.value.schemas.enable': 'false',
      'quarkus.http.port': String(await freePort()),
      'quarkus.log.level': 'INFO',
      'quarkus.log.console.json': 'false',
    };
    writeFileSync(
      join(dir, 'config', 'application.properties'),
      Object.entries(properties)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    const log = openSync(join(dir, 'debezium.log'), 'a');
    const runner = `debezium-server-dist-${DEBEZIUM_VERSION}-runner.jar`;
    // What the distribution's run.sh does, with our working directory (config/ is read from it).
    const child = spawn(
      debeziumJava(),
      [
        '-cp',
        [join(home, runner), join(home, 'config', 'lib'), join(home, 'lib', '*')].join(':'),
        'io.debezium.server.Main',
      ],
      { cwd: dir, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    reapOnExit(child.pid!, dir, 'TERM');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return new DebeziumServer(child, dir, exited);
  }

  get log(): string {
    try {
      return readFileSync(join(this.dir, 'debezium.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Peak resident set size (VmHWM) of the JVM, in bytes. */
  peakRss(): number {
    return peakRss(this.pid);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
