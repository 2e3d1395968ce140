import type { Admin } from 'kafkajs';
import type { Client } from 'pg';
import type { Config } from '../config/load';
import { applicationName } from '../replication/replication-stream';
import { withDatabase } from '../relay/database';
import { sampleSlot } from '../relay/source-check';

export interface SlotStatus {
  name: string;
  plugin: string | null;
  database: string | null;
  exists: boolean;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: string | null;
  lagBytes: number | null;
  retainedWalBytes: number | null;
  walStatus: string | null;
  safeWalBytes: number | null;
}

export interface InstanceStatus {
  pid: number;
  clientAddress: string | null;
  applicationName: string;
  state: string | null;
  backendStart: string;
  streamsSlot: boolean;
}

export interface TopicStatus {
  topic: string;
  partitions: number;
  /** Sum of the partitions' high watermarks: records ever written (minus none; retention aside). */
  endOffsets: number;
}

export interface Status {
  slot: SlotStatus;
  publication: { name: string; exists: boolean; publishesInserts: boolean; tables: string[] };
  outboxTable: { name: string; exists: boolean };
  instances: InstanceStatus[];
  topics: TopicStatus[] | { error: string } | null;
  problems: string[];
}

/** What the database says about the relay's slot, publication, table and connected instances. */
export async function databaseStatus(config: Config): Promise<Omit<Status, 'topics'>> {
  return withDatabase(config.databaseUrl, async (sql) => {
    const slot = await readSlotStatus(sql, config);
    const publication = await readPublication(sql, config.publicationName);
    const { schema, name } = config.outboxTable;
    const table = config.outboxTable.qualified();
    const { rows: tableRows } = await sql.query<{ exists: boolean }>(
      `select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                       where n.nspname = $1 and c.relname = $2) as exists`,
      [schema, name],
    );
    const { rows: instanceRows } = await sql.query<{
      pid: number;
      client_addr: string | null;
      application_name: string;
      state: string | null;
      backend_start: Date;
    }>(
      `select pid, client_addr::text, application_name, state, backend_start
         from pg_stat_activity
        where backend_type = 'walsender' and application_name = $1
        order by backend_start`,
      [applicationName(config.slotName)],
    );
    const tableExists = tableRows[0]?.exists === true;
    const problems: string[] = [];
    if (!slot.exists)
      problems.push(
        `slot ${slot.name} does not exist (the relay creates it on first start, or run init)`,
      );
    else if (slot.plugin !== 'pgoutput')
      problems.push(`slot ${slot.name} uses plugin ${slot.plugin ?? '?'}, not pgoutput`);
    if (slot.walStatus === 'lost')
      problems.push(
        `slot ${slot.name} lost WAL it needed: events after its confirmed position are gone`,
      );
    if (!publication.exists) problems.push(`publication ${publication.name} does not exist`);
    else if (
      config.messagePrefix === undefined &&
      (!publication.publishesInserts || !publication.tables.includes(table))
    )
      problems.push(`publication ${publication.name} does not publish inserts into ${table}`);
    if (!tableExists && config.messagePrefix === undefined)
      problems.push(`outbox table ${table} does not exist`);
    return {
      slot,
      publication,
      outboxTable: { name: table, exists: tableExists },
      instances: instanceRows.map((r) => ({
        pid: r.pid,
        clientAddress: r.client_addr,
        applicationName: r.application_name,
        state: r.state,
        backendStart: r.backend_start.toISOString(),
        streamsSlot: r.pid === slot.activePid,
      })),
      problems,
    };
  });
}

async function readSlotStatus(sql: Client, config: Config): Promise<SlotStatus> {
  const { rows } = await sql.query<{
    plugin: string | null;
    database: string | null;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
  }>(
    `select plugin, database, active, active_pid, confirmed_flush_lsn::text
       from pg_replication_slots where slot_name = $1`,
    [config.slotName],
  );
  const row = rows[0];
  const sample = row === undefined ? undefined : await sampleSlot(sql, config.slotName);
  return {
    name: config.slotName,
    plugin: row?.plugin ?? null,
    database: row?.database ?? null,
    exists: row !== undefined,
    active: row?.active ?? false,
    activePid: row?.active_pid ?? null,
    confirmedFlushLsn: row?.confirmed_flush_lsn ?? null,
    lagBytes: sample?.lagBytes ?? null,
    retainedWalBytes: sample?.retainedBytes ?? null,
    walStatus: sample?.walStatus ?? null,
    safeWalBytes: sample?.safeWalBytes ?? null,
  };
}

async function readPublication(sql: Client, name: string) {
  const { rows } = await sql.query<{ pubinsert: boolean; tables: string[] | null }>(
    `select p.pubinsert,
            array(select schemaname || '.' || tablename from pg_publication_tables t
                   where t.pubname = p.pubname order by 1) as tables
       from pg_publication p where p.pubname = $1`,
    [name],
  );
  const row = rows[0];
  return {
    name,
    exists: row !== undefined,
    publishesInserts: row?.pubinsert ?? false,
    tables: row?.tables ?? [],
  };
}

/** The relay's topics: those the topic template can produce, and the dead-letter topic. */
export async function topicStatus(admin: Admin, config: Config): Promise<TopicStatus[]> {
  const topics = (await admin.listTopics())
    .filter((t) => t === config.deadLetterTopic || config.topicTemplate.matches(t))
    .sort();
  const out: TopicStatus[] = [];
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    out.push({
      topic,
      partitions: offsets.length,
      endOffsets: offsets.reduce((sum, o) => sum + Number(o.high), 0),
    });
  }
  return out;
}

const bytes = (n: number | null) =>
  n === null
    ? '-'
    : n < 1024
      ? `${n} B`
      : n < 1024 ** 2
        ? `${(n / 1024).toFixed(1)} KiB`
        : n < 1024 ** 3
          ? `${(n / 1024 ** 2).toFixed(1)} MiB`
          : `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** The status for a terminal. */
export function formatStatus(status: Status): string {
  const { slot, publication } = status;
  const lines = [
    `slot         ${slot.name}: ${slot.exists ? `${slot.plugin ?? '?'} on database ${slot.database ?? '?'}, ${slot.active ? `streaming to pid ${slot.activePid ?? '?'}` : 'not streaming (no relay connected)'}` : 'MISSING'}`,
  ];
  if (slot.exists) {
    lines.push(
      `position     confirmed ${slot.confirmedFlushLsn ?? '-'}, lag ${bytes(slot.lagBytes)}, retained WAL ${bytes(slot.retainedWalBytes)}, wal_status ${slot.walStatus ?? '-'}, safe_wal_size ${bytes(slot.safeWalBytes)}`,
    );
  }
  lines.push(
    `publication  ${publication.name}: ${publication.exists ? `${publication.publishesInserts ? 'inserts' : 'NO inserts'} of ${publication.tables.length > 0 ? publication.tables.join(', ') : '(no tables)'}` : 'MISSING'}`,
    `outbox       ${status.outboxTable.name}${status.outboxTable.exists ? '' : ' (does not exist)'}`,
  );
  if (status.instances.length === 0) lines.push('instances    none connected');
  for (const i of status.instances) {
    lines.push(
      `instance     pid ${i.pid} from ${i.clientAddress ?? 'local socket'} since ${i.backendStart}${i.streamsSlot ? ' (active: holds the slot)' : ''}`,
    );
  }
  if (status.topics === null) lines.push('topics       (KAFKA_BROKERS not set)');
  else if ('error' in status.topics) lines.push(`topics       unavailable: ${status.topics.error}`);
  else if (status.topics.length === 0) lines.push('topics       none yet');
  else
    for (const t of status.topics)
      lines.push(`topic        ${t.topic}: ${t.partitions} partitions, ${t.endOffsets} records`);
  lines.push(
    status.problems.length === 0 ? 'ok' : status.problems.map((p) => `PROBLEM: ${p}`).join('\n'),
  );
  return `${lines.join('\n')}\n`;
}
