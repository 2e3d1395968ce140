import { randomBytes } from 'node:crypto';

/**
 * A name no other test (in this run or an earlier one against the same services) uses: valid as a
 * PostgreSQL identifier (lower case, < 63 bytes) and as a Kafka topic name.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  return `${clean}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
