/**
 * kafkajs 2.2.4 asks the cluster for the transaction coordinator (FindCoordinator) before every
 * AddPartitionsToTxn and EndTxn: two extra round trips per Kafka transaction. Measured during an
 * exactly-once catch-up of 200,000 events on the 2-core bench machine: 110 coordinator lookups at
 * 5-12 ms each, about as much broker time as all the Produce requests together. This keeps each
 * lookup's answer for a few seconds, per client and transactional id. After a coordinator moves,
 * requests to the old one fail (NOT_COORDINATOR) until the entry expires; kafkajs retries them
 * for about as long, and a transaction that fails anyway restarts the session with new
 * producers (and so new caches): nothing is lost or duplicated, it only takes longer.
 */

/** What this module relies on of kafkajs' internal Cluster class. */
interface ClusterPrototype {
  findGroupCoordinator: (
    this: object,
    args: { groupId: string; coordinatorType?: number },
  ) => Promise<unknown>;
}

type Entry = { broker: Promise<unknown>; at: number };

/** kafkajs' COORDINATOR_TYPES.TRANSACTION. */
const TRANSACTION = 1;
const TTL_MS = 5_000;

let installed = false;

/** Installs the cache (once per process); group coordinator lookups are left as they are. */
export function cacheTransactionCoordinators(): void {
  if (installed) return;
  installed = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { prototype } = require('kafkajs/src/cluster') as { prototype: ClusterPrototype };
  const lookup = prototype.findGroupCoordinator;
  const caches = new WeakMap<object, Map<string, Entry>>();
  prototype.findGroupCoordinator = function (args) {
    if (args.coordinatorType !== TRANSACTION) return lookup.call(this, args);
    let cache = caches.get(this);
    if (cache === undefined) caches.set(this, (cache = new Map<string, Entry>()));
    const hit = cache.get(args.groupId);
    if (hit !== undefined && Date.now() - hit.at < TTL_MS) return hit.broker;
    const broker = lookup.call(this, args);
    const entries = cache;
    entries.set(args.groupId, { broker, at: Date.now() });
    broker.catch(() => entries.delete(args.groupId));
    return broker;
  };
}
