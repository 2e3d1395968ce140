import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from './errors';
import { run, tail } from './exec';
import { requireMaven } from './prerequisites';

/** The Apache Kafka broker the tests run against (official jars from Maven Central). */
export const KAFKA_VERSION = '4.1.1';
/** Kafka 4.1 logs through slf4j 1.7 -> log4j2; the broker distribution ships this binding. */
const LOG4J_VERSION = '2.24.3';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const MAVEN_TIMEOUT_MS = 10 * 60_000;

const ARTIFACTS = [
  `org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`,
  `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`,
  `org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}`,
];

/** Where downloaded artefacts live: outside the repository, shared by every checkout. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OUTBOX_TEST_CACHE_DIR) return env.OUTBOX_TEST_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'outbox-relay');
}

function pom(artifacts: readonly string[]): string {
  const deps = artifacts.map((coords) => {
    const [groupId, artifactId, version] = coords.split(':');
    return `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
  });
  return [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>outbox-relay.test</groupId><artifactId>kafka-broker</artifactId><version>1</version>',
    '  <dependencies>',
    ...deps,
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

/** Maven's own error lines without its generic advice, or the output's tail when it has none. */
export function mavenErrors(output: string): string {
  const boilerplate =
    /^\[ERROR\]\s*(To see the full stack trace|Re-run Maven|For more information|\[Help \d+\]|$)/;
  // eslint-disable-next-line no-control-regex -- strips the colour codes Maven 3.8 prints even in batch mode
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const errors = plain.split('\n').filter((l) => l.startsWith('[ERROR]') && !boilerplate.test(l));
  return errors.length > 0 ? errors.join('\n') : tail(plain);
}

/**
 * Directory holding the Kafka broker's runtime jars. Resolved once with Maven into the cache (keyed
 * by the artefact list, so a version bump gets a fresh directory); later runs use it offline.
 */
export function ensureKafkaJars(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return resolveJars(`kafka-${KAFKA_VERSION}`, ARTIFACTS, `kafka_2.13-${KAFKA_VERSION}`, env);
}

/**
 * The Kafka tools (kafka-producer-perf-test's ProducerPerformance and friends), for the
 * benchmark's reference figure. Resolved like the broker jars, into their own directory.
 */
export function ensureKafkaToolsJars(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return resolveJars(
    `kafka-tools-${KAFKA_VERSION}`,
    [`org.apache.kafka:kafka-tools:${KAFKA_VERSION}`, ...ARTIFACTS.slice(1)],
    `kafka-tools-${KAFKA_VERSION}`,
    env,
  );
}

/** Resolves `artifacts` with their runtime dependencies into `<cache>/<name>-<hash>/libs`, once. */
async function resolveJars(
  name: string,
  artifacts: readonly string[],
  mustHave: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const key = createHash('sha256').update(artifacts.join('\n')).digest('hex').slice(0, 10);
  const home = join(cacheDir(env), `${name}-${key}`);
  const libs = join(home, 'libs');
  const marker = join(home, 'complete');
  if (existsSync(marker)) return libs;

  requireMaven();
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'pom.xml'), pom(artifacts));
  const staging = join(home, `libs.${process.pid}.tmp`);
  rmSync(staging, { recursive: true, force: true });
  const result = await run(
    'mvn',
    [
      '-B',
      '-q',
      '-f',
      join(home, 'pom.xml'),
      `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      `-DoutputDirectory=${staging}`,
      '-DincludeScope=runtime',
    ],
    { timeoutMs: MAVEN_TIMEOUT_MS },
  );
  if (result.code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new HarnessError(
      `Maven could not resolve the ${name} jars (mvn exit ${result.code}):\n` +
        mavenErrors(`${result.stdout}\n${result.stderr}`),
      'check that Maven Central (or the mirror in ~/.m2/settings.xml) is reachable, then run again',
    );
  }
  const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith(mustHave))) {
    throw new HarnessError(`Maven finished but ${staging} has no ${mustHave} jar`);
  }
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
  writeFileSync(marker, `${jars.sort().join('\n')}\n`);
  return libs;
}
