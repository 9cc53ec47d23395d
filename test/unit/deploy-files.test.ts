import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSettings } from '@revmod/client';
import { DEFAULTS, envVarNames, REVMOD_SETTINGS } from '../../src/config';
import { findDoc, readCompose, readDeployDocs, REPO_ROOT, type Doc } from '../helpers/deploy-files';

const KNOWN_ENV = new Set(envVarNames());
const SECRET_ENV = new Set(listSettings(REVMOD_SETTINGS).filter((s) => s.setting.secret).map((s) => s.setting.env));
const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8');

/** Compose durations such as `45s`, `1m30s`, in ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0) throw new Error(`not a compose duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/**
 * A compose string as the container gets it: `$$` is Compose's escape for a literal `$`, left for
 * the container's shell to expand from its own environment (so secrets stay out of the command).
 */
const asContainerSees = (text: string): string => text.replace(/\$\$/g, '$');

/** The CMD of a Dockerfile as an argv array. */
function dockerCmd(dockerfile: string): string[] {
  const m = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (!m) throw new Error('no exec-form CMD');
  return JSON.parse(m[1]!) as string[];
}

/** The compiled path of a TypeScript source under tsconfig.build.json (outDir, rootDir). */
function compiledPath(source: string): string {
  const base = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
  const build = JSON.parse(read('tsconfig.build.json')) as { compilerOptions?: { outDir?: string; rootDir?: string }; include: string[] };
  const outDir = build.compilerOptions?.outDir ?? base.compilerOptions.outDir;
  const rootDir = build.compilerOptions?.rootDir ?? base.compilerOptions.rootDir;
  expect(rootDir).toBe('.');
  expect(build.include).toContain(source.split('/')[0]);
  return join(outDir, source.replace(/\.ts$/, '.js'));
}

describe('Dockerfiles', () => {
  const cpu = read('Dockerfile');
  const gpu = read('Dockerfile.gpu');

  it('CPU image: node 20 slim, production deps without the ORT download, non-root, compiled worker', () => {
    expect(cpu).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(cpu).toMatch(/npm ci --omit=dev/);
    expect(cpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
    expect(cpu).toMatch(/^RUN npm run build/m);
    expect(cpu).toMatch(/^USER node$/m);
    const cmd = dockerCmd(cpu);
    expect(cmd[0]).toBe('node');
    expect(cmd[1]).toBe(compiledPath('workers/moderation-worker.ts'));
    expect(existsSync(join(REPO_ROOT, 'workers/moderation-worker.ts'))).toBe(true);
  });

  it('GPU image: CUDA 12 + cuDNN runtime base, ORT CUDA 12 libraries installed explicitly, non-root', () => {
    expect(gpu).toMatch(/^ARG CUDA_IMAGE=nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/m);
    expect(gpu).toMatch(/^FROM \$\{CUDA_IMAGE\} AS runtime$/m);
    expect(gpu).toMatch(/node node_modules\/onnxruntime-node\/script\/install --onnxruntime-node-install=cuda12/);
    // The environment variable wins over the flag in onnxruntime-node's script: it must say cuda12 too.
    expect(gpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/);
    expect(gpu).not.toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
    const installUtils = read('node_modules/onnxruntime-node/script/install-utils.js');
    expect(installUtils).toContain('process.env.ONNXRUNTIME_NODE_INSTALL');
    expect(installUtils).toContain("'--onnxruntime-node-install='");
    expect(gpu).toMatch(/^USER revmod$/m);
    expect(gpu).toMatch(/--omit=dev/);
    expect(dockerCmd(gpu)).toEqual(dockerCmd(cpu));
  });

  it('GPU image, WebGPU variant (--target runtime-webgpu): Mesa 25 and the Vulkan loader, no CUDA libraries, the driver\'s ICD mounted', () => {
    const stage = gpu.slice(gpu.indexOf('FROM ${NODE_IMAGE} AS runtime-webgpu'), gpu.indexOf('FROM ${CUDA_IMAGE} AS runtime'));
    expect(stage).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime-webgpu$/m);
    expect(stage).toMatch(/Suites: bookworm-backports/);
    expect(stage).toMatch(/apt-get install .*-t bookworm-backports mesa-vulkan-drivers libvulkan1/);
    expect(stage).toMatch(/NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    expect(stage).toMatch(/REVMOD_EXECUTION_PROVIDER=webgpu/);
    // Copied from the stage before the CUDA libraries are fetched.
    expect(stage).not.toMatch(/--from=build\b/);
    expect(stage).toMatch(/COPY --from=source \/app\/node_modules/);
    expect(stage).toMatch(/^USER revmod$/m);
    expect(dockerCmd(stage)).toEqual(dockerCmd(cpu));
  });

  it('bakes no model into either runtime image (the untrained demo model is refused in production anyway)', () => {
    for (const dockerfile of [cpu, gpu]) {
      const runtime = dockerfile.slice(dockerfile.search(/^FROM .* AS runtime$/m));
      expect(runtime).toMatch(/^FROM .* AS runtime$/m);
      expect(runtime.match(/^COPY .*$/gm)!.filter((line) => /models|\.onnx/.test(line))).toEqual([]);
    }
  });

  it('.dockerignore keeps local deps, builds and secrets out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.env', '.git', 'test']) expect(ignored).toContain(entry);
  });
});

describe('docker-compose.yml', () => {
  const compose = readCompose();
  const services = compose.services as Record<string, Doc>;
  const envOf = (s: Doc): Record<string, string> => s.environment as Record<string, string>;

  it('has the services, each long-running one with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(['createbuckets', 'minio', 'ops', 'redis', 'review', 'worker', 'worker-demo', 'worker-gpu']);
    for (const [name, s] of Object.entries(services)) {
      if (name === 'createbuckets') continue;
      expect({ name, test: Array.isArray(s.healthcheck?.test) }).toEqual({ name, test: true });
    }
  });

  it('runs Redis with AOF, noeviction, a password from the environment and a named volume', () => {
    const redis = services.redis!;
    const command = asContainerSees((redis.command as string[]).join(' '));
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--requirepass "\$\{REDIS_PASSWORD\}"/);
    expect(envOf(redis).REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(redis.volumes).toContain('redis-data:/data');
    expect(Object.keys(compose.volumes as Doc)).toEqual(expect.arrayContaining(['redis-data', 'minio-data']));
  });

  it('creates the bucket in MinIO before workers start', () => {
    expect(services.minio!.volumes).toContain('minio-data:/data');
    const create = services.createbuckets!;
    expect(create.depends_on.minio.condition).toBe('service_healthy');
    expect(asContainerSees((create.command as string[]).join(' '))).toMatch(/mc mb --ignore-existing "local\/\$\{REVMOD_BUCKET\}"/);
    for (const w of ['worker', 'worker-gpu']) {
      expect(services[w]!.depends_on.createbuckets.condition).toBe('service_completed_successfully');
      expect(services[w]!.depends_on.redis.condition).toBe('service_healthy');
    }
  });

  it('lets `--scale worker=N` work: no container name, no host port', () => {
    for (const w of ['worker', 'worker-gpu']) {
      expect(services[w]!.container_name).toBeUndefined();
      expect(services[w]!.ports).toBeUndefined();
      expect(envOf(services[w]!).REVMOD_METRICS_PORT).toBe('9464');
      expect(services[w]!.healthcheck.test.join(' ')).toContain('http://127.0.0.1:9464/readyz');
    }
  });

  it('gives workers a stop grace period longer than their drain deadline', () => {
    for (const w of ['worker', 'worker-gpu']) {
      const drainMs = Number(envOf(services[w]!).REVMOD_SHUTDOWN_TIMEOUT_MS);
      expect(drainMs).toBeGreaterThan(0);
      expect(durationMs(services[w]!.stop_grace_period as string)).toBeGreaterThan(drainMs);
    }
  });

  it('puts the GPU worker under the gpu profile with an NVIDIA device reservation', () => {
    const gpu = services['worker-gpu']!;
    expect(gpu.profiles).toEqual(['gpu']);
    expect(gpu.build.dockerfile).toBe('Dockerfile.gpu');
    expect(envOf(gpu).REVMOD_EXECUTION_PROVIDER).toBe('cuda');
    const devices = gpu.deploy.resources.reservations.devices as Doc[];
    expect(devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
    expect(services.worker!.profiles).toBeUndefined();
  });

  it('allows the untrained model only in the demo profile, which says so', () => {
    const demo = services['worker-demo']!;
    expect(demo.profiles).toEqual(['demo']);
    expect(envOf(demo).REVMOD_ALLOW_UNTRAINED_MODEL).toBe('true');
    expect(envOf(demo).REVMOD_MODEL_PATH).toBe('/app/models/revmod-resnet18-seed0.onnx');
    expect(demo.volumes).toEqual(['./models:/app/models:ro']);
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'worker-demo') expect({ name, allow: (s.environment as Record<string, string> | undefined)?.REVMOD_ALLOW_UNTRAINED_MODEL }).toEqual({ name, allow: undefined });
    }
    expect(read('docker-compose.yml')).toMatch(/Demo only: the generated, UNTRAINED ResNet18/);
  });

  it('runs the ops server with credentials, published on loopback only', () => {
    const ops = services.ops!;
    expect(ops.command).toEqual(['node', compiledPath('workers/ops-server.ts')]);
    const env = envOf(ops);
    expect(env.REVMOD_OPS_PASSWORD).toMatch(/^\$\{REVMOD_OPS_PASSWORD:\?/);
    expect(env.REVMOD_OPS_ALLOW_NO_AUTH).toBeUndefined();
    expect(ops.ports).toEqual([`127.0.0.1:${env.REVMOD_OPS_PORT}:${env.REVMOD_OPS_PORT}`]);
    expect(ops.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${env.REVMOD_OPS_PORT}/readyz`);
  });

  it('runs the review console under its profile with a session secret and the users file, published on loopback only', () => {
    const review = services.review!;
    expect(review.profiles).toEqual(['review']);
    expect(review.command).toEqual(['node', compiledPath('workers/cli.ts'), 'review']);
    const env = envOf(review);
    expect(env.REVMOD_SESSION_SECRET).toMatch(/^\$\{REVMOD_SESSION_SECRET:\?/);
    expect(review.volumes).toContain(`./users.json:${env.REVMOD_USERS_FILE}:ro`);
    expect(review.ports).toEqual([`127.0.0.1:${env.REVMOD_REVIEW_PORT}:${env.REVMOD_REVIEW_PORT}`]);
    expect(review.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${env.REVMOD_REVIEW_PORT}/readyz`);
    expect(services.createbuckets!.command.join(' ')).toContain('REVMOD_DECISION_LOG_BUCKET');
  });

  it('only sets revmod variables that the config knows', () => {
    for (const name of ['worker', 'worker-gpu', 'ops', 'review']) {
      for (const key of Object.keys(envOf(services[name]!))) expect({ service: name, key, known: KNOWN_ENV.has(key) }).toEqual({ service: name, key, known: true });
    }
  });
});

describe('Kubernetes example (deploy/)', () => {
  const docs = readDeployDocs();
  const worker = findDoc(docs, 'Deployment', 'revmod-worker');
  const ops = findDoc(docs, 'Deployment', 'revmod-ops');
  const review = findDoc(docs, 'Deployment', 'revmod-review');
  const secret = findDoc(docs, 'Secret');
  const containerOf = (d: Doc): Doc => d.spec.template.spec.containers[0] as Doc;
  const envMap = (c: Doc): Record<string, Doc> => Object.fromEntries((c.env as Doc[]).map((e) => [e.name as string, e]));

  it('parses, and every object has apiVersion, kind and a name', () => {
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const { file, doc } of docs) {
      expect({ file, ok: typeof doc.apiVersion === 'string' && typeof doc.kind === 'string' && typeof doc.metadata?.name === 'string' })
        .toEqual({ file, ok: true });
    }
  });

  it('selects its own pods', () => {
    for (const d of [worker, ops, review]) expect(d.spec.template.metadata.labels).toEqual(expect.objectContaining(d.spec.selector.matchLabels));
  });

  it('probes the worker on /readyz and /healthz at its metrics port', () => {
    const c = containerOf(worker);
    const env = envMap(c);
    const port = (c.ports as Doc[]).find((p) => p.name === 'metrics')!;
    expect(String(port.containerPort)).toBe(env.REVMOD_METRICS_PORT!.value);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(worker.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(port.containerPort));
  });

  it('gives the worker a termination grace period longer than its drain deadline', () => {
    const drainMs = Number(envMap(containerOf(worker)).REVMOD_SHUTDOWN_TIMEOUT_MS!.value);
    expect(drainMs).toBeGreaterThan(0);
    expect(worker.spec.template.spec.terminationGracePeriodSeconds * 1_000).toBeGreaterThan(drainMs);
  });

  it('takes every secret from the Secret, never inline, and sets only known variables', () => {
    const keys = Object.keys(secret.stringData as Doc);
    for (const d of [worker, ops, review]) {
      const env = envMap(containerOf(d));
      for (const [name, e] of Object.entries(env)) {
        expect({ name, known: KNOWN_ENV.has(name) }).toEqual({ name, known: true });
        if (SECRET_ENV.has(name)) expect({ name, inline: 'value' in e }).toEqual({ name, inline: false });
        const ref = e.valueFrom?.secretKeyRef as Doc | undefined;
        if (ref) expect({ name, ref: `${ref.name}/${ref.key}` }).toEqual({ name, ref: `${secret.metadata.name}/${ref.key}` });
        if (ref) expect(keys).toContain(ref.key);
      }
    }
    expect(envMap(containerOf(ops)).REVMOD_OPS_PASSWORD!.valueFrom.secretKeyRef.key).toBe('ops-password');
    expect(envMap(containerOf(review)).REVMOD_SESSION_SECRET!.valueFrom.secretKeyRef.key).toBe('session-secret');
    // The users file comes from the Secret too, at the path the console reads.
    const mount = (containerOf(review).volumeMounts as Doc[])[0]!;
    const volume = (review.spec.template.spec.volumes as Doc[]).find((v) => v.name === mount.name)!;
    expect(volume.secret.secretName).toBe(secret.metadata.name);
    expect(`${mount.mountPath}/${volume.secret.items[0].path}`).toBe(envMap(containerOf(review)).REVMOD_USERS_FILE!.value);
    expect(keys).toContain(volume.secret.items[0].key);
  });

  it('scales the worker with KEDA on the moderation queue backlog (wait list and prioritized set)', () => {
    const scaled = findDoc(docs, 'ScaledObject');
    expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled.spec.scaleTargetRef.name).toBe(worker.metadata.name);
    expect(scaled.spec.maxReplicaCount).toBeGreaterThan(scaled.spec.minReplicaCount);
    const prefix = envMap(containerOf(worker)).REVMOD_QUEUE_PREFIX?.value ?? DEFAULTS.redis.prefix;
    const triggers = scaled.spec.triggers as Doc[];
    expect(triggers.map((t) => [t.type, t.metadata.listName])).toEqual([
      ['redis', `${prefix}:${DEFAULTS.queues.moderation}:wait`],
      ['redis', `${prefix}:${DEFAULTS.queues.moderation}:prioritized`],
    ]);
    const auth = findDoc(docs, 'TriggerAuthentication');
    for (const t of triggers) {
      expect(t.metadata.listLength).toMatch(/^[1-9]\d*$/);
      expect(t.metadata.address).toMatch(/^[a-z0-9.-]+:\d+$/);
      expect(t.authenticationRef.name).toBe(auth.metadata.name);
    }
    const ref = (auth.spec.secretTargetRef as Doc[]).find((r) => r.parameter === 'password')!;
    expect(ref.name).toBe(secret.metadata.name);
    expect(Object.keys(secret.stringData as Doc)).toContain(ref.key);
  });
});
