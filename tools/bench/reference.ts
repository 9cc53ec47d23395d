/**
 * The tutorial's reference server (../shared/reference: Flask + PyTorch, one image per request),
 * its load client, and its seed-0 ONNX export made loadable by revmod (a model card beside it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cardPathFor } from '../../src/model/model-card';
import { generatedModelCard } from '../model-gen/ensure-model';
import type { CleanupStack } from '../dev/cleanup-stack';
import { freePort } from '../dev/free-port';
import { machineBusyMs, pidCpuMs, sleep } from './measure';

export const PYTHON = '/usr/bin/python3';

/** The export serve-seed.sh / make_model.py write (REFERENCE_DIR as serve-seed.sh reads it). */
export function referenceCacheDir(): string {
  return process.env.REFERENCE_DIR ?? join(homedir(), '.cache', 'revmod-reference');
}

/** Whether Debian's python can import torch (the default for --reference). */
export function pythonHasTorch(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

/** Makes sure the reference's seed-0 ONNX exists (make_model.py, as serve-seed.sh would), returns its path. */
export function ensureReferenceOnnx(referenceDir: string): string {
  const dir = referenceCacheDir();
  const onnx = join(dir, 'resnet18-seed0.onnx');
  if (!existsSync(onnx)) {
    const r = spawnSync(PYTHON, [join(referenceDir, 'make_model.py'), dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    if (r.status !== 0 || !existsSync(onnx)) throw new Error(`make_model.py could not export ${onnx} (exit ${r.status})`);
  }
  return onnx;
}

/**
 * A temp folder holding a link to the reference's ONNX and a revmod model card for it (the
 * generated ResNet18 card with its name and version changed: same input/output names and
 * preprocessing). Returns the model path to configure.
 */
export function revmodCardForReference(onnxPath: string, cleanups: CleanupStack): string {
  const dir = mkdtempSync(join(tmpdir(), 'revmod-bench-model-'));
  cleanups.add('reference model card', () => rmSync(dir, { recursive: true, force: true }));
  const modelPath = join(dir, 'reference-resnet18-seed0.onnx');
  symlinkSync(onnxPath, modelPath);
  const base = generatedModelCard('resnet18');
  let exportInfo: unknown;
  try {
    exportInfo = JSON.parse(readFileSync(onnxPath.replace(/\.onnx$/, '.json'), 'utf8'));
  } catch {
    exportInfo = undefined;
  }
  const card = {
    ...base,
    name: 'reference-resnet18-seed0',
    version: 'torch-export',
    description: "UNTRAINED. The tutorial reference server's seed-0 ResNet18 (torch.manual_seed(0), torchvision resnet18(num_classes=2)), exported to ONNX by ../shared/reference/make_model.py; loaded for a like-for-like benchmark only.",
    metadata: { architecture: 'resnet18', source: onnxPath, ...(exportInfo !== undefined ? { export: exportInfo } : {}) },
  };
  writeFileSync(cardPathFor(modelPath), `${JSON.stringify(card, null, 2)}\n`);
  return modelPath;
}

export interface ReferenceServer {
  readonly url: string;
  /** The python process (serve-seed.sh execs it). */
  readonly pid: number | undefined;
  readonly logFile: string;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/predict', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Starts serve-seed.sh on a free loopback port and waits until it answers. */
export async function startReferenceServer(referenceDir: string, cleanups: CleanupStack, torchThreads?: number): Promise<ReferenceServer> {
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), 'revmod-bench-ref-'));
  const logFile = join(logDir, 'server.log');
  const fd = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  if (torchThreads !== undefined) env.TORCH_THREADS = String(torchThreads);
  else delete env.TORCH_THREADS;
  // serve-seed.sh execs python: the child's pid is the server's. Own process group, so a stop reaches everything.
  const child: ChildProcess = spawn('bash', [join(referenceDir, 'serve-seed.sh')], { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async (): Promise<void> => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 30 && !exited; i++) await sleep(100);
      if (!exited) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(logDir, { recursive: true, force: true });
  };
  cleanups.add('reference server', stop);
  const deadline = Date.now() + 300_000; // first use may apt-get install its packages
  while (!(await answers(port))) {
    if (exited) throw new Error(`the reference server exited during start:\n${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`the reference server did not answer on port ${port}:\n${tail(logFile)}`);
    await sleep(250);
  }
  return { url: `http://127.0.0.1:${port}/predict`, pid: child.pid, logFile, stop };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** One row of load.py's --json-out. */
export interface LoadRun {
  readonly concurrency: number;
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly error_samples: string[];
  readonly wall_s: number;
  readonly images_per_s: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly p50_ms_by_class: Record<string, number>;
}

/** CPU spent while load.py ran, warm-up requests included. */
export interface LoadCpu {
  readonly requests: number;
  readonly wallMs: number;
  readonly serverMs: number;
  readonly clientMs: number;
  /** Busy CPU of the whole machine. */
  readonly machineMs: number;
}

export interface LoadResult {
  readonly runs: LoadRun[];
  readonly cpu: LoadCpu;
}

// load.py run through runpy, so that its own CPU time can be read at the end (resource.getrusage).
const LOAD_WRAPPER = [
  'import resource, runpy, sys',
  'sys.argv = sys.argv[1:]',
  'try:',
  "    runpy.run_path(sys.argv[0], run_name='__main__')",
  'finally:',
  '    r = resource.getrusage(resource.RUSAGE_SELF)',
  "    sys.stderr.write('LOAD_CPU_MS %f\\n' % ((r.ru_utime + r.ru_stime) * 1000))",
].join('\n');

/** Runs load.py against the server on a folder of images, measuring the server's and its own CPU. */
export async function runLoad(
  referenceDir: string,
  server: ReferenceServer,
  imagesDir: string,
  o: { count: number; concurrency: readonly number[]; repeat?: number; warmup?: number },
): Promise<LoadResult> {
  const outDir = mkdtempSync(join(tmpdir(), 'revmod-bench-load-'));
  const jsonOut = join(outDir, 'load.json');
  const repeat = o.repeat ?? 1;
  const warmup = o.warmup ?? 4;
  try {
    const args = ['-c', LOAD_WRAPPER, join(referenceDir, 'load.py'), '--url', server.url, '--dir', imagesDir, '--count', String(o.count),
      '--concurrency', ...o.concurrency.map(String), '--repeat', String(repeat), '--warmup', String(warmup), '--json-out', jsonOut];
    const server0 = pidCpuMs(server.pid);
    const machine0 = machineBusyMs();
    const t0 = performance.now();
    let clientMs = Number.NaN;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(PYTHON, args, { stdio: ['ignore', 'inherit', 'pipe'] });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        const m = /LOAD_CPU_MS ([\d.]+)/.exec(chunk);
        if (m) clientMs = Number(m[1]);
        const rest = chunk.replace(/LOAD_CPU_MS [\d.]+\n?/, '');
        if (rest) process.stderr.write(rest);
      });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c ?? 1));
    });
    const cpu: LoadCpu = {
      requests: warmup + o.count * o.concurrency.length * repeat,
      wallMs: performance.now() - t0,
      serverMs: pidCpuMs(server.pid) - server0,
      clientMs,
      machineMs: machineBusyMs() - machine0,
    };
    if (code !== 0) throw new Error(`load.py exited with code ${code}`);
    return { runs: JSON.parse(readFileSync(jsonOut, 'utf8')) as LoadRun[], cpu };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** A temp folder of links to some images (load.py takes a folder). */
export function linkFolder(imagesDir: string, names: readonly string[], cleanups: CleanupStack): string {
  const dir = mkdtempSync(join(tmpdir(), 'revmod-bench-subset-'));
  cleanups.add('image subset', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  for (const n of names) symlinkSync(join(imagesDir, n), join(dir, n));
  return dir;
}
