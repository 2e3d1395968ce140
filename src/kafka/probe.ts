import type { Admin } from 'kafkajs';

/** True if a broker answers a metadata request within `timeoutMs`. */
export async function probeCluster(admin: Admin, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      admin.describeCluster().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
