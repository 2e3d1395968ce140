import type { Kafka } from 'kafkajs';
import type { Config } from '../config/load';
import { TopicTemplate } from '../kafka/topic-name';
import type { Logger } from '../logger';
import { recordMapper, valueFormat } from '../relay/from-config';
import { replay, REPLAY_HEADER, type ReplayProgress } from '../replay/replay';
import type { ReplayArgs } from './args';

export interface ReplayIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress redraws one line on a terminal; elsewhere it is a line every few seconds. */
  isTty: boolean;
}

const PLAIN_PROGRESS_MS = 5_000;

/** `outbox-relay replay`: returns the exit code (0 done, 1 failed or interrupted). */
export async function runReplay(
  args: ReplayArgs,
  config: Config,
  kafka: () => Kafka,
  log: Logger,
  io: ReplayIo,
  signal: AbortSignal,
): Promise<number> {
  let routed = config;
  if (args.topicTemplate !== undefined) {
    try {
      routed = { ...config, topicTemplate: TopicTemplate.parse(args.topicTemplate) };
    } catch (err) {
      throw new Error(`--topic-template ${(err as Error).message}`);
    }
  }
  const records = recordMapper(routed, valueFormat(routed, log));
  let lastPlain = 0;
  const result = await replay(
    config,
    records,
    args,
    {
      dryRun: args.dryRun,
      maxRate: args.maxRate,
      signal,
      onProgress: (progress) => {
        if (io.isTty) io.err(`\r${progressLine(progress)}`);
        else if (progress.elapsedMs - lastPlain >= PLAIN_PROGRESS_MS) {
          lastPlain = progress.elapsedMs;
          io.err(`${progressLine(progress)}\n`);
        }
      },
    },
    kafka,
    log,
  );
  if (io.isTty && !args.dryRun) io.err('\n');
  if (args.dryRun) {
    io.out(
      `${result.selected} rows selected (ordered by ${result.orderedBy}); nothing published\n`,
    );
    for (const row of result.sample) io.out(`${JSON.stringify(row)}\n`);
    return 0;
  }
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  io.out(
    `replay ${result.runId} (header ${REPLAY_HEADER}): ${result.published - result.deadLettered} published, ` +
      `${result.deadLettered} dead-lettered to ${config.deadLetterTopic}, of ${result.selected} selected, ` +
      `in ${seconds} s (ordered by ${result.orderedBy})${result.interrupted ? '; INTERRUPTED before the end' : ''}\n`,
  );
  return result.interrupted ? 1 : 0;
}

/** `[#####.....]  52%  52000/100000  8,512 ev/s  ETA 6 s` */
export function progressLine({ selected, published, elapsedMs }: ReplayProgress): string {
  const share = selected === 0 ? 1 : Math.min(published / selected, 1);
  const bar = '#'.repeat(Math.round(share * 20)).padEnd(20, '.');
  const rate = elapsedMs > 0 ? (published * 1000) / elapsedMs : 0;
  const eta = rate > 0 ? Math.ceil((selected - published) / rate) : undefined;
  return `[${bar}] ${String(Math.floor(share * 100)).padStart(3)}%  ${published}/${selected}  ${Math.round(rate).toLocaleString('en-US')} ev/s  ETA ${eta === undefined ? '?' : `${eta} s`}`;
}
