import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load';
import { OPTIONS } from '../../../src/config/options';
import { startNodeFlags } from '../../helpers/relay-process';

const COMPOSE = 'docker/compose.yml';
const AVRO = 'docker/compose.avro.yml';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}

const compose = parse(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;
const env = (service: string) =>
  Object.fromEntries(
    Object.entries(services[service]?.environment ?? {}).map(([k, v]) => [k, String(v)]),
  );

/** `docker compose config` when the plugin is there, else Debian's docker-compose (v1). */
function composeConfig(
  files: string[] = [COMPOSE],
): { tool: string; status: number | null; output: string } | undefined {
  const f = files.flatMap((file) => ['-f', file]);
  for (const [cmd, args] of [
    ['docker', ['compose', ...f, 'config', '-q']],
    ['docker-compose', [...f, 'config', '-q']],
  ] as const) {
    const probe = spawnSync(cmd, cmd === 'docker' ? ['compose', 'version'] : ['version'], {
      encoding: 'utf8',
    });
    if (probe.status !== 0) continue;
    const result = spawnSync(cmd, args, { encoding: 'utf8' });
    return {
      tool: `${cmd} ${args[0]}`,
      status: result.status,
      output: result.stdout + result.stderr,
    };
  }
  return undefined;
}

const avroEnv = () => {
  const override = parse(readFileSync(AVRO, 'utf8')) as { services: Record<string, Service> };
  return Object.fromEntries(
    Object.entries(override.services['outbox-relay']?.environment ?? {}).map(([k, v]) => [
      k,
      String(v),
    ]),
  );
};

describe('docker/compose.yml', () => {
  it('is a valid compose file (docker compose config)', () => {
    const result = composeConfig();
    if (result === undefined) {
      // .ci/run installs docker-compose; elsewhere the check needs one of the two tools.
      if (process.env.CI === 'true') throw new Error('neither docker compose nor docker-compose');
      return;
    }
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('has an Avro variant: the relay writes through the registry kafka-ui reads from', () => {
    const result = composeConfig([COMPOSE, AVRO]);
    if (result !== undefined) {
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    } else if (process.env.CI === 'true')
      throw new Error('neither docker compose nor docker-compose');
    const relay = { ...env('outbox-relay'), ...avroEnv() };
    const config = loadConfig(relay);
    expect(config.valueFormat).toBe('avro');
    expect(config.avroSchemaDir).toBe('/app/schemas/avro'); // the image's copy of schemas/
    expect(config.schemaRegistryUrl).toBe(env('kafka-ui').KAFKA_CLUSTERS_0_SCHEMAREGISTRY);
    expect(new URL(config.schemaRegistryUrl!).hostname).toBe('schema-registry');
    expect(services['schema-registry']?.image).toMatch(/apicurio-registry:3\.0\.9$/);
  });

  it('configures the relay with known, valid environment variables only', () => {
    const relay = env('outbox-relay');
    const known = new Set(Object.values(OPTIONS).map((o) => o.env));
    expect(Object.keys(relay).filter((name) => !known.has(name))).toEqual([]);
    const config = loadConfig(relay);
    expect(config.httpPort).toBe(9400);
    expect(services['outbox-relay']?.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      kafka: { condition: 'service_healthy' },
    });
  });

  it('points the relay and kafka-ui at the compose services, with the least-privilege role', () => {
    const config = loadConfig(env('outbox-relay'));
    const database = new URL(config.databaseUrl);
    expect(database.hostname).toBe('postgres');
    expect(database.pathname).toBe(`/${env('postgres').POSTGRES_DB}`);
    const roleSql = readFileSync('docker/relay-role.sql', 'utf8');
    expect(roleSql).toContain(
      `CREATE ROLE ${database.username} WITH LOGIN REPLICATION PASSWORD '${database.password}'`,
    );
    expect(roleSql).toContain(
      `GRANT SELECT ON ${config.outboxTable.schema}.${config.outboxTable.name} TO ${database.username}`,
    );
    expect(roleSql).toContain(`CREATE PUBLICATION ${config.publicationName} FOR TABLE`);

    const advertised = env('kafka').KAFKA_ADVERTISED_LISTENERS!.split(',');
    expect(advertised).toContain(`PLAINTEXT://${config.kafkaBrokers[0]}`);
    expect(env('kafka-ui').KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS).toBe(config.kafkaBrokers.join(','));
    // A KRaft cluster id is 16 bytes, base64url.
    expect(Buffer.from(env('kafka').CLUSTER_ID!, 'base64url')).toHaveLength(16);
  });

  it('starts PostgreSQL with logical decoding and the outbox schema from schemas/', () => {
    const postgres = services.postgres!;
    expect(postgres.command).toContain('wal_level=logical');
    expect(postgres.volumes).toContain(
      '../schemas/outbox.sql:/docker-entrypoint-initdb.d/10-outbox.sql:ro',
    );
    expect(services.writer?.depends_on).toMatchObject({
      'outbox-relay': { condition: 'service_healthy' },
    });
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('builds in one stage and runs production dependencies only, as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('installs dependencies without their install scripts, and needs none of its own', () => {
    for (const stage of stages) {
      if (!/npm ci/.test(stage)) continue;
      expect(stage).toMatch(/npm ci[^\n]*--ignore-scripts/);
      expect(stage).not.toMatch(/patch-package|postinstall/);
    }
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      expect(manifest.scripts[hook]).toBeUndefined();
  });

  it('runs the relay with the V8 flags of npm start', () => {
    const flags = startNodeFlags();
    expect(flags).toContain('--max-semi-space-size=4');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint).toEqual(['node', ...flags, 'dist/cli.js']);
    // The bin script keeps a plain shebang: `env -S` is missing from BusyBox and npm's shims.
    expect(readFileSync('src/cli.ts', 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('checks health on /healthz of the configured HTTP port', () => {
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(dockerfile).toMatch(/HTTP_PORT=9400/);
  });
});
