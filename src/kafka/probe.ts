import type { Admin } from 'kafkajs';
import { raceTimeout } from '../retry/timeout';

/** True if a broker answers a metadata request within `timeoutMs`. */
export async function probeCluster(admin: Admin, timeoutMs: number): Promise<boolean> {
  try {
    return await raceTimeout(
      admin.describeCluster().then(() => true),
      timeoutMs,
      false,
    );
  } catch {
    return false;
  }
}
