import './global-setup';

/** Stops and removes the services the global setup started (never ones given by the caller). */
export default async function globalTeardown(): Promise<void> {
  const started = globalThis.__outboxRelayServices;
  globalThis.__outboxRelayServices = undefined;
  if (!started) return;
  await Promise.allSettled([started.postgres?.destroy(), started.kafka?.destroy()]);
}
