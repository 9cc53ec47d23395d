import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';

/** The onnxruntime execution providers a worker can run batches on. */
export const EXECUTION_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** What `REVMOD_EXECUTION_PROVIDER` takes: one provider, or `auto` (the first that works, in EXECUTION_PROVIDERS order). */
export const EXECUTION_PROVIDER_CHOICES = ['auto', ...EXECUTION_PROVIDERS] as const;
export type ExecutionProviderChoice = (typeof EXECUTION_PROVIDER_CHOICES)[number];

/** A provider that was tried (or ruled out before trying) and not used, and why. */
export interface ProviderAttempt {
  readonly provider: ExecutionProviderName;
  readonly reason: string;
}

/** Providers not used, in one line: `cuda: …; webgpu: …`. */
export function describeAttempts(attempts: readonly ProviderAttempt[]): string {
  return attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
}

/**
 * The providers to try, in order. `auto`: cuda, webgpu, cpu. One named provider is the only one
 * tried at start (a misconfigured GPU box should not start quietly on CPU); once the worker has
 * served, a restarted thread (its GPU lost) may end on cpu rather than stop taking jobs.
 */
export function providerChain(choice: ExecutionProviderChoice, options: { readonly restart: boolean }): ExecutionProviderName[] {
  if (choice === 'auto') return [...EXECUTION_PROVIDERS];
  if (choice === 'cpu' || !options.restart) return [choice];
  return [choice, 'cpu'];
}

/** The CUDA provider library, present only when onnxruntime-node was installed with ONNXRUNTIME_NODE_INSTALL=cuda12. */
export function cudaProviderMissing(): string | undefined {
  const root = dirname(require.resolve('onnxruntime-node/package.json'));
  const lib = join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  return existsSync(lib) ? undefined : `onnxruntime-node was installed without its CUDA provider (${lib} is missing; install with ONNXRUNTIME_NODE_INSTALL=cuda12)`;
}

/**
 * GPU device nodes a Vulkan driver could reach: NVIDIA's, the DRM render nodes (AMD, Intel, Mesa),
 * and WSL's. Without one, Dawn can only find a software Vulkan device (Mesa's lavapipe), which is
 * far slower than the CPU provider.
 */
export function gpuDeviceNodes(dev = '/dev'): string[] {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  return [
    ...list(dev).filter((n) => /^nvidia\d+$/.test(n) || n === 'dxg').map((n) => join(dev, n)),
    ...list(join(dev, 'dri')).filter((n) => n.startsWith('renderD')).map((n) => join(dev, 'dri', n)),
  ];
}

/** Where the Vulkan loader looks for driver manifests (ICDs) on Linux, the variables first. */
export const VULKAN_ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'] as const;

/** The Vulkan driver manifests (ICD JSON files) the loader would read, by file path. */
export function vulkanIcdFiles(env: NodeJS.ProcessEnv = process.env, dirs: readonly string[] = VULKAN_ICD_DIRS): string[] {
  const named = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (named !== undefined && named !== '') return named.split(':').filter((f) => f.length > 0);
  return dirs.flatMap((dir) => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f));
    } catch {
      return [];
    }
  });
}

/** Where to look for the host's GPU and Vulkan drivers (tests point them at fake folders). */
export interface HostPaths {
  readonly devDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly icdDirs?: readonly string[];
}

/**
 * Why `provider` is not worth trying here, or undefined to try it. Only `auto` rules webgpu out
 * where Dawn could only find a software Vulkan device: no GPU device node, or an NVIDIA GPU whose
 * Vulkan driver is not installed (in a container: the toolkit mounts it only for the `graphics`
 * capability). Naming `webgpu` runs it on whatever adapter Dawn finds, software ones included
 * (that is how CI tests it).
 */
export function providerPreflight(provider: ExecutionProviderName, choice: ExecutionProviderChoice, host: HostPaths = {}): string | undefined {
  if (provider === 'cuda') return cudaProviderMissing();
  if (provider !== 'webgpu' || choice !== 'auto') return undefined;
  const dev = host.devDir ?? '/dev';
  const nodes = gpuDeviceNodes(dev);
  if (nodes.length === 0) {
    return `no GPU device node (${dev}/nvidia*, ${dev}/dri/renderD*): WebGPU could only use a software Vulkan device, slower than the CPU provider (set REVMOD_EXECUTION_PROVIDER=webgpu to use it anyway)`;
  }
  const onlyNvidia = nodes.every((n) => !n.includes('/dri/'));
  if (onlyNvidia && !vulkanIcdFiles(host.env, host.icdDirs).some((f) => /nvidia/i.test(basename(f)))) {
    return 'an NVIDIA GPU but no NVIDIA Vulkan driver manifest (nvidia_icd.json): WebGPU could only use a software Vulkan device; install the driver\'s Vulkan part, or in a container add `graphics` to NVIDIA_DRIVER_CAPABILITIES';
  }
  return undefined;
}

/** How WebGPU lays out tensors inside the provider (its convolutions); the model's input stays NCHW. */
export type WebGpuLayout = 'NCHW' | 'NHWC';

/** onnxruntime's executionProviders entry for `provider`. */
export function executionProviderConfig(provider: ExecutionProviderName, webgpuLayout: WebGpuLayout = 'NCHW'): InferenceSession.ExecutionProviderConfig {
  if (provider === 'webgpu') return { name: 'webgpu', preferredLayout: webgpuLayout };
  return provider;
}

/** The session options of a worker's model session on `provider`. */
export function sessionOptionsFor(provider: ExecutionProviderName, options: { readonly intraOpThreads: number; readonly webgpuLayout?: WebGpuLayout }): InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    // No busy-waiting between parallel sections: the intra-op threads share the cores with the decoding
    // threads, and spinning burns the time those need (measured on 2 cores: −15–20 % inference CPU per
    // image end to end, and 2× faster batch-1 inference when another thread is busy).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    executionProviders: [executionProviderConfig(provider, options.webgpuLayout)],
  };
}

/**
 * onnxruntime's message in one line, without its source location: `/…/webgpu_context.cc:136 … was
 * false. Failed to get a WebGPU adapter: No supported adapters` → `Failed to get a WebGPU adapter:
 * No supported adapters`.
 */
export function providerErrorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown error';
  const afterCheck = /\bwas false\.\s*(.+)$/.exec(line);
  if (afterCheck) return afterCheck[1]!;
  return line.replace(/^\/\S+\.(?:cc|cpp|h):\d+\s+\S+(?:\([^)]*\))*(?:::<lambda\(\)>)?\s*/, '');
}

/**
 * A run error that means the GPU itself is gone (device lost, adapter removed, driver reset): the
 * session cannot run again, so the thread is replaced and the provider tried afresh.
 */
export function isDeviceLoss(message: string): boolean {
  return /device (?:was )?lost|devicelost|device was destroyed|failed to get a webgpu adapter|vk_error_device_lost|cudaErrorDevicesUnavailable|cudaErrorLaunchFailure/i.test(message);
}
