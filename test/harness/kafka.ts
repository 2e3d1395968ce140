import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { HarnessError } from './errors';
import { reapOnExit, run, tail } from './exec';
import { ensureKafkaJars, KAFKA_VERSION } from './kafka-jars';
import { freePort } from './ports';
import { requireJava } from './prerequisites';

export interface KafkaOptions {
  /** Extra broker properties, applied on top of the harness defaults. */
  properties?: Record<string, string | number | boolean>;
  /** JVM heap for the broker. */
  heap?: string;
  /** Adds an SSL listener (client certificates required) and a SASL_SSL listener. */
  security?: KafkaSecurityOptions;
}

export interface KafkaSecurityOptions {
  /** PEM file with the broker's private key (PKCS#8, unencrypted) and certificate chain. */
  keystorePem: string;
  /** PEM file with the CA that signs broker and client certificates. */
  truststorePem: string;
  /** SASL users, accepted with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
  users: Array<{ name: string; password: string }>;
  /** Turns on Kafka's StandardAuthorizer: principals other than ANONYMOUS (the PLAINTEXT listener) need ACLs. */
  authorizer?: boolean;
}

const PORT_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * A single-node Apache Kafka (KRaft, combined broker + controller) from the official jars, on free
 * loopback ports, with its data in a temp dir. `stop()`/`start()` simulate an outage and keep data.
 */
export class KafkaServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  /** Port of the SSL listener (client certificate required), when `security` was given. */
  sslPort = 0;
  /** Port of the SASL_SSL listener, when `security` was given. */
  saslPort = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly controllerPort: number,
    private readonly libs: string,
    private readonly heap: string,
    private readonly security?: KafkaSecurityOptions,
  ) {}

  /** `host:port` of the PLAINTEXT listener, the form KAFKA_BROKERS takes. */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'kafka.log');
  }

  /** The broker JVM's GC log (one line per pause, with its duration). */
  get gcLogFile(): string {
    return join(this.dir, 'gc.log');
  }

  /** Pid of the broker while it runs. */
  get pid(): number | undefined {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null
      ? child.pid
      : undefined;
  }

  static async start(options: KafkaOptions = {}): Promise<KafkaServer> {
    requireJava();
    const libs = await ensureKafkaJars();
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-kafka-'));
      const port = await freePort();
      let controllerPort = await freePort();
      while (controllerPort === port) controllerPort = await freePort();
      const server = new KafkaServer(
        dir,
        port,
        controllerPort,
        libs,
        options.heap ?? '512m',
        options.security,
      );
      try {
        if (options.security !== undefined) {
          const taken = new Set([port, controllerPort]);
          const another = async () => {
            let p = await freePort();
            while (taken.has(p)) p = await freePort();
            taken.add(p);
            return p;
          };
          server.sslPort = await another();
          server.saslPort = await another();
        }
        server.writeConfig(options.properties ?? {});
        await server.format();
        await server.start();
        return server;
      } catch (err) {
        await server.destroy();
        const portTaken =
          err instanceof HarnessError && /BindException|Address already in use/.test(err.message);
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  }

  /** Starts the broker process (again) and waits until it answers metadata requests. */
  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    const log = openSync(this.logFile, 'a');
    const child = spawn(
      'java',
      [
        `-Xms${this.heap}`,
        `-Xmx${this.heap}`,
        '-XX:+UseSerialGC',
        `-Xlog:gc:file=${this.gcLogFile}:time`,
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
        '-cp',
        join(this.libs, '*'),
        'kafka.Kafka',
        join(this.dir, 'server.properties'),
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child.unref();
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.pid !== undefined) reapOnExit(child.pid, this.dir, 'TERM');
    await this.waitUntilReady(child);
  }

  /** Stops the broker: a clean shutdown by default, `SIGKILL` for a crash. Data is kept. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the broker and removes its files. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeConfig(overrides: Record<string, string | number | boolean>): void {
    const properties: Record<string, string | number | boolean> = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${this.controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': join(this.dir, 'data'),
      'num.partitions': 1,
      'offsets.topic.replication.factor': 1,
      // 50 partitions (the default) make the first consumer group in a run slow to appear.
      'offsets.topic.num.partitions': 4,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'share.coordinator.state.topic.replication.factor': 1,
      'share.coordinator.state.topic.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
      // After a kill the restarted broker cannot register until its old session expires (default
      // 9 s, which made each restart take ~13 s); outage tests restart often.
      'broker.session.timeout.ms': 2000,
      'broker.heartbeat.interval.ms': 500,
      ...this.securityProperties(),
      ...overrides,
    };
    const lines = Object.entries(properties).map(([k, v]) => `${k}=${String(v)}`);
    writeFileSync(join(this.dir, 'server.properties'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(this.dir, 'log4j2.properties'),
      [
        'status = warn',
        'appender.console.type = Console',
        'appender.console.name = STDOUT',
        'appender.console.layout.type = PatternLayout',
        'appender.console.layout.pattern = [%d] %p %m (%c)%n',
        'rootLogger.level = WARN',
        'rootLogger.appenderRef.stdout.ref = STDOUT',
        'logger.server.name = kafka.server.KafkaRaftServer',
        'logger.server.level = INFO',
        '',
      ].join('\n'),
    );
  }

  private securityProperties(): Record<string, string | number | boolean> {
    const security = this.security;
    if (security === undefined) return {};
    const host = '127.0.0.1';
    const jaasUsers = security.users.map((u) => `user_${u.name}="${u.password}"`).join(' ');
    return {
      listeners: `PLAINTEXT://${host}:${this.port},CONTROLLER://${host}:${this.controllerPort},SSL://${host}:${this.sslPort},SASL_SSL://${host}:${this.saslPort}`,
      'advertised.listeners': `PLAINTEXT://${host}:${this.port},SSL://${host}:${this.sslPort},SASL_SSL://${host}:${this.saslPort}`,
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': security.keystorePem,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': security.truststorePem,
      'listener.name.ssl.ssl.client.auth': 'required',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${jaasUsers};`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      ...(security.authorizer === true
        ? {
            'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
            'super.users': 'User:ANONYMOUS',
          }
        : {}),
    };
  }

  /** StorageTool arguments that create the SCRAM credentials of `security.users`. */
  private scramArguments(): string[] {
    return (this.security?.users ?? []).flatMap((u) =>
      ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
        '--add-scram',
        `${m}=[name=${u.name},password=${u.password}]`,
      ]),
    );
  }

  private async format(): Promise<void> {
    // A KRaft cluster id is 16 random bytes in URL-safe base64 without padding. Like Kafka's own
    // Uuid.randomUuid(), avoid a leading '-': the storage tool would read it as an option (seen
    // failing CI about once in 64 formats).
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    const result = await run(
      'java',
      [
        '-Xmx256m',
        `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
        '-cp',
        join(this.libs, '*'),
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        join(this.dir, 'server.properties'),
        ...this.scramArguments(),
      ],
      { timeoutMs: 120_000 },
    );
    if (result.code !== 0) {
      throw new HarnessError(
        `formatting Kafka ${KAFKA_VERSION} KRaft storage failed:\n${tail(result.stdout + result.stderr)}`,
      );
    }
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    const kafka = new Kafka({
      clientId: 'outbox-relay-harness',
      brokers: [this.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new HarnessError(
          `Kafka exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${this.logTail()}`,
        );
      }
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0) return;
      } catch (err) {
        lastError = err;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await this.stop('SIGKILL');
    throw new HarnessError(
      `Kafka did not answer metadata on ${this.brokers} within ${READY_TIMEOUT_MS / 1000}s ` +
        `(last error: ${String(lastError)}):\n${this.logTail()}`,
    );
  }

  private logTail(): string {
    try {
      return tail(readFileSync(this.logFile, 'utf8'), 20);
    } catch {
      return '(no log)';
    }
  }
}
