import { existsSync, readFileSync, statSync } from 'node:fs';

export interface BrokerGcPause {
  /** Epoch seconds at which the pause was logged (its end). */
  at: number;
  ms: number;
}

/** Where the broker's GC log ends now: pass it to `brokerGcPausesSince` after the window. */
export function gcLogOffset(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/**
 * The pauses the broker JVM logged (`-Xlog:gc:file=...:time`) after `from`, e.g.
 * `[2026-12-02T07:41:11.887+0000] GC(12) Pause Young (Allocation Failure) 150M->20M(494M) 12.345ms`.
 */
export function brokerGcPausesSince(file: string, from: number): BrokerGcPause[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file).subarray(from).toString('utf8');
  const pauses: BrokerGcPause[] = [];
  for (const m of text.matchAll(/^\[([^\]]+)\].*\bPause\b.* ([\d.]+)ms$/gm)) {
    // Java prints the zone as +0000; Date.parse wants +00:00.
    const at = Date.parse(m[1]!.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) / 1000;
    if (Number.isFinite(at)) pauses.push({ at, ms: Number(m[2]) });
  }
  return pauses;
}
