import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { gpuWarmUpSizes } from '../../src/worker/moderation-worker';
import { describeAttempts, executionProviderConfig, gpuDeviceNodes, isDeviceLoss, providerChain, providerErrorReason, providerPreflight, vulkanIcdFiles } from '../../src/model/execution-providers';

describe('execution provider choice', () => {
  it('auto tries cuda, webgpu, cpu; a named GPU provider alone at start, then cpu after a restart', () => {
    expect(providerChain('auto', { restart: false })).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(providerChain('auto', { restart: true })).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(providerChain('webgpu', { restart: false })).toEqual(['webgpu']);
    expect(providerChain('webgpu', { restart: true })).toEqual(['webgpu', 'cpu']);
    expect(providerChain('cuda', { restart: true })).toEqual(['cuda', 'cpu']);
    expect(providerChain('cpu', { restart: true })).toEqual(['cpu']);
  });

  it('REVMOD_EXECUTION_PROVIDER takes webgpu and names the choices when wrong', () => {
    expect(loadConfig({}, { REVMOD_EXECUTION_PROVIDER: 'webgpu' }).model.executionProvider).toBe('webgpu');
    expect(() => loadConfig({}, { REVMOD_EXECUTION_PROVIDER: 'vulkan' })).toThrow(/REVMOD_EXECUTION_PROVIDER.*received "vulkan"/);
  });

  it('finds GPU device nodes, and auto rules webgpu out without one (software Vulkan only)', () => {
    const dev = mkdtempSync(join(tmpdir(), 'revmod-dev-'));
    try {
      mkdirSync(join(dev, 'dri'));
      writeFileSync(join(dev, 'nvidiactl'), '');
      writeFileSync(join(dev, 'dri', 'card0'), '');
      expect(gpuDeviceNodes(dev)).toEqual([]);
      expect(providerPreflight('webgpu', 'auto', { devDir: dev })).toMatch(/no GPU device node .*software Vulkan device.*REVMOD_EXECUTION_PROVIDER=webgpu/);
      expect(providerPreflight('webgpu', 'webgpu', { devDir: dev })).toBeUndefined(); // named: tried on whatever adapter Dawn finds
      writeFileSync(join(dev, 'dri', 'renderD128'), '');
      writeFileSync(join(dev, 'nvidia0'), '');
      expect(gpuDeviceNodes(dev).sort()).toEqual([join(dev, 'dri', 'renderD128'), join(dev, 'nvidia0')]);
      expect(providerPreflight('webgpu', 'auto', { devDir: dev })).toBeUndefined();
      expect(providerPreflight('cpu', 'auto', { devDir: dev })).toBeUndefined();
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });

  it('auto rules webgpu out on an NVIDIA GPU without its Vulkan driver manifest (Dawn would fall to software)', () => {
    const root = mkdtempSync(join(tmpdir(), 'revmod-nvidia-'));
    try {
      const dev = join(root, 'dev');
      const icd = join(root, 'icd.d');
      mkdirSync(dev);
      mkdirSync(icd);
      writeFileSync(join(dev, 'nvidia0'), '');
      writeFileSync(join(icd, 'lvp_icd.json'), '{}');
      const host = { devDir: dev, icdDirs: [icd], env: {} };
      expect(vulkanIcdFiles({}, [icd])).toEqual([join(icd, 'lvp_icd.json')]);
      expect(providerPreflight('webgpu', 'auto', host)).toMatch(/NVIDIA GPU but no NVIDIA Vulkan driver manifest .*graphics.*NVIDIA_DRIVER_CAPABILITIES/);
      expect(providerPreflight('webgpu', 'webgpu', host)).toBeUndefined();
      // The loader's variables name the manifests instead of the folders.
      expect(providerPreflight('webgpu', 'auto', { ...host, env: { VK_ICD_FILENAMES: '/usr/share/vulkan/icd.d/nvidia_icd.json' } })).toBeUndefined();
      writeFileSync(join(icd, 'nvidia_icd.json'), '{}');
      expect(providerPreflight('webgpu', 'auto', host)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reduces onnxruntime errors to their reason and tells a lost device from other failures', () => {
    const noAdapter = '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
    expect(providerErrorReason(new Error(noAdapter))).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(providerErrorReason(new Error('\n  plain message\nmore'))).toBe('plain message');
    expect(isDeviceLoss('WebGPU device lost (2): Device was destroyed.')).toBe(true);
    expect(isDeviceLoss(noAdapter)).toBe(true);
    expect(isDeviceLoss('Non-zero status code returned while running Conv node')).toBe(false);
    expect(describeAttempts([{ provider: 'cuda', reason: 'a' }, { provider: 'webgpu', reason: 'b' }])).toBe('cuda: a; webgpu: b');
  });

  it('asks onnxruntime for WebGPU with the layout chosen', () => {
    expect(executionProviderConfig('webgpu', 'NHWC')).toEqual({ name: 'webgpu', preferredLayout: 'NHWC' });
    expect(executionProviderConfig('cpu')).toBe('cpu');
  });
});

describe('REVMOD_GPU_WARMUP_SIZES', () => {
  it('reads batch sizes and refuses one outside 1…REVMOD_BATCH_SIZE, naming it', () => {
    expect(gpuWarmUpSizes(loadConfig({}, { REVMOD_GPU_WARMUP_SIZES: '1,8', REVMOD_BATCH_SIZE: '8' }))).toEqual([1, 8]);
    expect(gpuWarmUpSizes(loadConfig({}, {}))).toEqual([1]);
    expect(() => gpuWarmUpSizes(loadConfig({}, { REVMOD_GPU_WARMUP_SIZES: '1,64', REVMOD_BATCH_SIZE: '32' })))
      .toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/REVMOD_GPU_WARMUP_SIZES.*1 to 32.*received "64"/) }));
  });
});
