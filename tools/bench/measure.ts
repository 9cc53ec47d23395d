import { readdirSync, readFileSync } from 'node:fs';

/** Percentile with linear interpolation between ranks (the reference's load.py uses the same rule). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const xs = [...values].sort((a, b) => a - b);
  const k = ((xs.length - 1) * p) / 100;
  const f = Math.floor(k);
  const c = Math.min(f + 1, xs.length - 1);
  return xs[f]! + (xs[c]! - xs[f]!) * (k - f);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Process CPU (user + system, all threads) in ms since process start. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/task/<tid>/stat reports clock ticks

export interface ThreadInfo {
  readonly tid: number;
  readonly name: string;
  /** user + system CPU ms. */
  readonly cpuMs: number;
}

/** Every thread of this process with its name and CPU time (Linux /proc; [] elsewhere). */
export function processThreads(): ThreadInfo[] {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return [];
  }
  const out: ThreadInfo[] = [];
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After "(comm) ": state is field 0, utime field 11, stime field 12.
      const ticks = Number(fields[11]) + Number(fields[12]);
      out.push({ tid: Number(t), name, cpuMs: (ticks * 1000) / CLK_TCK });
    } catch {
      // The thread exited between readdir and read.
    }
  }
  return out;
}

/**
 * CPU of a set of threads: the ones born between two snapshots (e.g. around starting the inference
 * engine: its worker thread and onnxruntime's pool), minus libvips' own workers.
 */
export class ThreadGroup {
  private readonly tids = new Set<number>();
  private before: Set<number> | undefined;

  /** Call before the threads are created. */
  markBefore(): void {
    this.before = new Set(processThreads().map((t) => t.tid));
  }

  /** Call after they are created: every new thread not named like a libvips worker joins the group. */
  markAfter(): void {
    const before = this.before ?? new Set<number>();
    for (const t of processThreads()) {
      if (!before.has(t.tid) && !/vips/i.test(t.name)) this.tids.add(t.tid);
    }
  }

  get size(): number {
    return this.tids.size;
  }

  cpuMs(): number {
    return processThreads().filter((t) => this.tids.has(t.tid)).reduce((a, t) => a + t.cpuMs, 0);
  }
}

/** CPU ms of this process's main thread (the event loop), from /proc; NaN elsewhere. */
export function mainThreadCpuMs(): number {
  return processThreads().find((t) => t.tid === process.pid)?.cpuMs ?? Number.NaN;
}

/** Samples RSS every `intervalMs` and keeps the peak. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peak = process.memoryUsage.rss();

  start(intervalMs = 100): this {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

export const mib = (bytes: number): number => bytes / (1024 * 1024);

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU ms of another process (user + system), from /proc; NaN when unavailable. */
export function pidCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU ms of the whole machine, all cores (everything but idle and iowait), from /proc/stat. */
export function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}
