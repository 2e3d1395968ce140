import Module from 'node:module';
import { groupMessagesPerPartition, murmur2, partitionerFactory } from './partitioning';
import {
  fastProduceRequest,
  frameRequest,
  speedUpEncoder,
  type EncoderClass,
  type ProduceRequest,
} from './produce-path';

/**
 * The relay's faster kafkajs produce path, carried in its own source and handed to kafkajs in
 * memory when the process starts, so it is the same however the relay was installed (a clone,
 * the npm tarball with install scripts off, npx, pnpm, the Docker image): no install script, no
 * patched files on disk. Five pieces, the same bytes on the wire as kafkajs' own (unit tests):
 *
 * - uncompressed record batches measured, then written in one pass (`record-batch.ts`), inside
 *   kafkajs' Produce request (v3, which v4-v7 reuse);
 * - every request framed in one buffer of its exact size, a Produce request's batches written
 *   straight into it (kafkajs copies a Produce request's batches four times, through growing encoders);
 * - messages grouped by partition in linear time (kafkajs copies each partition's list per
 *   message);
 * - murmur2 in 32-bit arithmetic instead of 64-bit Long emulation (same partitions as the Java
 *   client), ASCII keys hashed without a Buffer, and the partitioner listing partitions with a
 *   leader only for keyless messages (kafkajs lists them for every message);
 * - the encoder's varints written in place and its buffers grown without zero-filling.
 *
 * Importing this module installs them (the pieces are in `produce-path.ts` and `partitioning.ts`) by putting them in
 * Node's module cache under kafkajs' own file names; it must come before anything imports kafkajs
 * (the first import of `cli.ts`). kafkajs' internals are version-specific: with another kafkajs
 * version nothing is replaced, and `fastPathStatus()` says why. (Jest has its own module
 * registry, so under Jest the pieces are tested directly and the installation through a real
 * process: `test/integration/packaging.test.ts`.)
 */

/** The kafkajs version whose internals these replacements match. */
export const FAST_PATH_KAFKAJS = '2.2.4';

export interface FastPathStatus {
  active: boolean;
  kafkajs: string;
  /** Why it is not active (what was not in place). */
  problems: string[];
}

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs' internal modules, untyped */
const PATHS = {
  group: 'kafkajs/src/producer/groupMessagesPerPartition',
  murmur2: 'kafkajs/src/producer/partitioners/default/murmur2',
  partitioner: 'kafkajs/src/producer/partitioners/legacy/partitioner',
  produceV3: 'kafkajs/src/protocol/requests/produce/v3/request',
  encoder: 'kafkajs/src/protocol/encoder',
  request: 'kafkajs/src/protocol/request',
} as const;

const replacements = new Map<string, unknown>();

/** Puts `exports` in the module cache under kafkajs' own file, before kafkajs loads it. */
function provide(request: string, exports: unknown): void {
  const filename = require.resolve(request);
  const module = new Module(filename);
  module.filename = filename;
  module.exports = exports;
  module.loaded = true;
  require.cache[filename] = module;
  replacements.set(request, exports);
}

/** kafkajs' version as installed next to the relay, or undefined if it cannot be found. */
function kafkajsVersion(): string | undefined {
  try {
    return (require('kafkajs/package.json') as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** Why `install` replaced nothing (reported by every later status). */
let notInstalled: string | undefined;

function install(): FastPathStatus {
  const version = kafkajsVersion();
  const loaded = Object.values(PATHS)
    .filter((p) => p !== PATHS.encoder)
    .filter((p) => version !== undefined && require.cache[require.resolve(p)] !== undefined);
  if (version === undefined) notInstalled = 'kafkajs cannot be found';
  else if (version !== FAST_PATH_KAFKAJS)
    notInstalled = `kafkajs ${version} is not ${FAST_PATH_KAFKAJS}, whose internals it replaces`;
  else if (loaded.length > 0)
    notInstalled = `kafkajs was loaded before the fast path (${loaded.join(', ')})`;
  if (notInstalled !== undefined) return fastPathStatus();
  const Encoder = require(PATHS.encoder) as EncoderClass;
  replacements.set(PATHS.encoder, speedUpEncoder(Encoder));
  provide(PATHS.group, groupMessagesPerPartition);
  provide(PATHS.murmur2, murmur2);
  provide(PATHS.partitioner, partitionerFactory);
  provide(PATHS.produceV3, fastProduceRequest(require(PATHS.produceV3) as ProduceRequest, Encoder));
  provide(PATHS.request, frameRequest(Encoder));
  return fastPathStatus();
}

/** Whether kafkajs, as loaded now, uses every piece of the fast path. */
export function fastPathStatus(): FastPathStatus {
  const version = kafkajsVersion() ?? 'missing';
  const problems: string[] = [];
  if (notInstalled !== undefined) problems.push(notInstalled);
  else if (replacements.size === 0) problems.push('not installed');
  for (const [request, exports] of replacements) {
    const inUse: unknown =
      request === PATHS.encoder
        ? Object.getOwnPropertyDescriptor(
            (require(PATHS.encoder) as EncoderClass).prototype,
            'writeUVarInt',
          )?.value
        : require(request);
    if (inUse !== exports) problems.push(`${request} is kafkajs' own`);
  }
  return { active: problems.length === 0, kafkajs: version, problems };
}
/* eslint-enable @typescript-eslint/no-require-imports */

export const installed: FastPathStatus = install();
