/**
 * A moderation worker as a real OS process (`node --require tsx/cjs workers/moderation-worker.ts`),
 * configured through its environment variables only, for fault tests and the soak: it can be
 * killed with -9, sent SIGTERM, and its memory sampled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { configEnv, type RevmodConfig } from '../../src/config';

export const REPO_ROOT = resolve(__dirname, '../..');
const ENTRY = resolve(REPO_ROOT, 'workers/moderation-worker.ts');

/** Variables passed through from this process: what node and tsx need, never credentials. */
const PASS_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'MALLOC_ARENA_MAX', 'UV_THREADPOOL_SIZE'];

export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WorkerProcessOptions {
  /** The worker's configuration: REDIS_URL, REVMOD_QUEUE_PREFIX, S3_ENDPOINT, ... (see src/config/settings.ts). */
  readonly env: Readonly<Record<string, string>>;
  /** A name for messages. */
  readonly name?: string;
  /** The process entry; default the worker's (workers/moderation-worker.ts). Fault tests substitute theirs. */
  readonly entry?: string;
  /** Called with each log line (JSON from pino, or anything the process prints). */
  readonly onLine?: (line: string) => void;
  /** Log lines kept for `tail()`. Default 1000. */
  readonly keepLines?: number;
}

/** One worker process. Its stdout/stderr lines are kept (the last few) for failure messages. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<WorkerExit>;
  private readonly lines: string[] = [];
  private readonly keep: number;
  private readyWaiters: Array<() => void> = [];
  private isReady = false;
  private exitInfo: WorkerExit | undefined;

  constructor(options: WorkerProcessOptions) {
    this.name = options.name ?? 'worker';
    this.keep = options.keepLines ?? 1000;
    const env: Record<string, string> = {};
    for (const k of PASS_THROUGH) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    Object.assign(env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, options.env);
    this.child = spawn(process.execPath, ['--require', 'tsx/cjs', options.entry ?? ENTRY], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onLine = (line: string) => {
      this.lines.push(line);
      if (this.lines.length > this.keep) this.lines.shift();
      if (!this.isReady && line.includes('"msg":"worker ready"')) {
        this.isReady = true;
        this.readyWaiters.splice(0).forEach((f) => f());
      }
      options.onLine?.(line);
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    createInterface({ input: this.child.stderr! }).on('line', onLine);
    this.exited = new Promise<WorkerExit>((resolveExit) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.readyWaiters.splice(0).forEach((f) => f());
        resolveExit(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Resolves once the worker logged "worker ready" (model loaded, consuming); rejects if it exits first or times out. */
  async ready(timeoutMs = 60_000): Promise<void> {
    if (!this.isReady && this.exitInfo === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => this.readyWaiters.push(r)),
        new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); }),
      ]);
      clearTimeout(timer);
    }
    if (!this.isReady) {
      throw new Error(`${this.name} (pid ${this.pid}) ${this.exitInfo ? `exited (${JSON.stringify(this.exitInfo)})` : `not ready within ${timeoutMs} ms`} before "worker ready"; last output:\n${this.tail()}`);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Waits for the exit; rejects after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<WorkerExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms; last output:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait for the exit (cleanup; safe to call on a dead process). */
  async destroy(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Resident memory in KiB (/proc/<pid>/status VmRSS), or undefined when gone / not Linux. */
  rssKiB(): number | undefined {
    if (!this.alive) return undefined;
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Peak resident memory in KiB (/proc/<pid>/status VmHWM), or undefined when gone / not Linux. */
  peakRssKiB(): number | undefined {
    if (!this.alive) return undefined;
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The last `n` output lines. */
  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Every kept line that contains `text`. */
  grep(text: string): string[] {
    return this.lines.filter((l) => l.includes(text));
  }
}

export function spawnWorker(options: WorkerProcessOptions): WorkerProcess {
  return new WorkerProcess(options);
}

/** What the fault tests and the soak vary; everything else is the worker's default. */
export interface WorkerSettings {
  readonly redisUrl: string;
  readonly prefix: string;
  /** S3_* variables (endpoint, credentials, path style). */
  readonly s3Env: Readonly<Record<string, string>>;
  /** REVMOD_MODEL_PATH: a local file or a registry reference (`s3://BUCKET/PREFIX/models/<name>@<alias>`). */
  readonly modelPath: string;
  /** REVMOD_MODEL_RELOAD_POLL_MS: with a registry reference, how often the alias is polled (0 = announcements only). */
  readonly reloadPollMs?: number;
  readonly batchSize?: number;
  readonly batchMaxWaitMs?: number;
  readonly concurrency?: number;
  readonly intraOpThreads?: number;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
  readonly shutdownTimeoutMs?: number;
  readonly maxBytes?: number;
  readonly logLevel?: string;
  /** Any other variables of src/config/settings.ts. */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The environment of a worker process for `settings`, through the config declarations. */
export function workerEnv(settings: WorkerSettings): Record<string, string> {
  return {
    ...configEnv({
      redis: { url: settings.redisUrl, prefix: settings.prefix },
      model: {
        path: settings.modelPath, executionProvider: 'cpu', intraOpThreads: settings.intraOpThreads, allowUntrained: true,
        reloadPollMs: settings.reloadPollMs,
      },
      batch: { size: settings.batchSize, maxWaitMs: settings.batchMaxWaitMs },
      worker: {
        concurrency: settings.concurrency, lockDurationMs: settings.lockDurationMs, stalledIntervalMs: settings.stalledIntervalMs,
        maxStalledCount: settings.maxStalledCount, shutdownTimeoutMs: settings.shutdownTimeoutMs,
      },
      limits: { maxBytes: settings.maxBytes },
      log: { level: (settings.logLevel ?? 'info') as RevmodConfig['log']['level'] },
    }),
    ...settings.s3Env,
    ...settings.extra,
  };
}
