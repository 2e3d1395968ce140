import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on every Linux this runs on). */
const TICKS = 100;

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle + iowait
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime: fields 14 and 15 of the whole line, 12 and 13 after the name.
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return NaN;
  }
}

/** A window's CPU use as the bench prints it: "machine 93% busy; cores used: relay 0.20, ...". */
export function describeCpu(window: {
  machineBusy: number;
  cores: Record<string, number>;
}): string {
  const cores = Object.entries(window.cores)
    .map(([who, c]) => `${who} ${c.toFixed(2)}`)
    .join(', ');
  return `machine ${(100 * window.machineBusy).toFixed(0)}% busy; cores used: ${cores}`;
}

/**
 * CPU use over a window: the whole machine's busy share (of all cores) and, per named process,
 * cores used on average (1.0 = one core). Started by the constructor, read by `stop()`.
 */
export class CpuWindow {
  private readonly machineStart = machineTicks();
  private readonly processStart: Map<string, number>;
  private readonly started = performance.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.processStart = new Map(
      Object.entries(pids).map(([name, pid]) => [
        name,
        pid === undefined ? NaN : processTicks(pid),
      ]),
    );
  }

  stop(): { machineBusy: number; cores: Record<string, number>; seconds: number } {
    const machine = machineTicks();
    const seconds = (performance.now() - this.started) / 1000;
    const cores: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const start = this.processStart.get(name) ?? NaN;
      cores[name] = pid === undefined ? NaN : (processTicks(pid) - start) / TICKS / seconds;
    }
    return {
      machineBusy:
        (machine.busy - this.machineStart.busy) / (machine.total - this.machineStart.total),
      cores,
      seconds,
    };
  }
}

/**
 * CPU time per event of one catch-up (microseconds): the system under test, the walsender
 * serving it and the broker, and the machine's busy share (0-1) meanwhile. With every core
 * busy, events/s is a share of the machine; CPU per event is what each system costs.
 */
export interface CatchUpCpu {
  systemUs: number;
  walsenderUs: number;
  kafkaUs: number;
  machineBusy: number;
}

/** Watches `system`, the walsender serving it and the broker until `stop(events)`. */
export function catchUpCpu(pids: { system: number; walsender?: number; kafka?: number }): {
  stop(events: number): CatchUpCpu;
} {
  const window = new CpuWindow(pids);
  return {
    stop(events) {
      const { machineBusy, cores, seconds } = window.stop();
      const us = (name: string) => ((cores[name] ?? NaN) * seconds * 1e6) / events;
      return {
        systemUs: us('system'),
        walsenderUs: us('walsender'),
        kafkaUs: us('kafka'),
        machineBusy,
      };
    },
  };
}
