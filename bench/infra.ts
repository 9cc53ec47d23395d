/** What the benchmark starts around the worker: Redis (if none answers), cleanup on exit, machine facts. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { freePort } from '../src/dev/free-port';
import { deletePrefix as deletePrefixAt } from '../src/dev/delete-prefix';
import { redisAnswers } from '../src/dev/local-redis';
import { sleep } from './measure';

type Cleanup = () => Promise<void> | void;

/** Cleanups run once, last registered first, on normal end, error, SIGINT or SIGTERM. */
export class Cleanups {
  private readonly steps: Array<{ name: string; fn: Cleanup }> = [];
  private running: Promise<void> | undefined;

  add(name: string, fn: Cleanup): void {
    this.steps.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`cleanup ${step.name}: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT/SIGTERM: clean up, then exit 130/143. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      process.stderr.write(`\n${signal}: stopping what the benchmark started...\n`);
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => onSignal('SIGINT', 130));
    process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  }
}

export interface BenchRedis {
  readonly url: string;
  /** Whether the benchmark started this Redis (and stops it at the end). */
  readonly started: boolean;
}

/** REDIS_URL (or 127.0.0.1:6379) if it answers; otherwise `redis-server` from PATH on a free port. */
export async function ensureRedis(cleanups: Cleanups): Promise<BenchRedis> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return { url, started: false };
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`no Redis answers at ${url} and redis-server could not be started: ${(err as Error).message}`);
  }
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`no Redis answers at ${url} and redis-server could not be started: ${err.message}`)));
  });
  failed.catch(() => undefined);
  cleanups.add('redis-server', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  const own = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([redisAnswers(own), failed])) return { url: own, started: true };
    await sleep(100);
  }
  throw new Error(`redis-server started on port ${port} but does not answer`);
}

export function uniquePrefix(): string {
  return `revmod-bench-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under a BullMQ prefix. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  await deletePrefixAt(prefix, url);
}

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly os: string;
  readonly memGiB: number;
}

export function machineInfo(): MachineInfo {
  let cores = cpus().length;
  try {
    cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cores;
  } catch {
    // keep os.cpus()
  }
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  let memGiB = 0;
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
    memGiB = kb / (1024 * 1024);
  } catch {
    // not Linux
  }
  let os = `${process.platform} ${process.arch}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) os = `${pretty} ${process.arch}`;
  } catch {
    // keep platform
  }
  return { cores, cpuModel, node: process.version, os, memGiB };
}

