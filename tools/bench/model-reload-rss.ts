/**
 * RSS across model reloads: a worker serving a registry alias (ResNet18, 44 MB, two versions),
 * the alias moved back and forth N times, the process's RSS printed after each swap has closed the
 * replaced engine. A leak of onnxruntime sessions shows as RSS growing by about a model per reload.
 * `--alias challenger` moves the shadow challenger instead (versions 2 and 3 beside champion 1).
 *
 *   npm run bench:reload [-- --reloads 20] [--alias champion|challenger]
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { cardPathFor } from '../../src/model/model-card';
import { ModelRegistry } from '../../src/model/model-registry';
import { modelAliasChannel } from '../../src/model/model-source';
import { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../dev/s3-server';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { DEFAULT_REDIS_URL, ensureRedis } from '../dev/redis-server';
import { defaultModelPath, ensureModel, generatedModelCard } from '../model-gen/ensure-model';
import { machineInfo } from './infra';

const mb = (bytes: number) => Math.round(bytes / 1048576);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reloads: { type: 'string', default: '20' }, alias: { type: 'string', default: 'champion' } } });
  const reloads = Number(values.reloads);
  const alias = values.alias!;
  if (alias !== 'champion' && alias !== 'challenger') throw new Error(`--alias must be champion or challenger, received ${JSON.stringify(alias)}`);
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  await ensureRedis(url);
  await ensureModel({ kind: 'resnet18' });
  const s3 = await S3Server.start({ buckets: ['registry'] });
  const dir = mkdtempSync(join(tmpdir(), 'revmod-reload-bench-'));
  const prefix = uniquePrefix('bench-reload');
  const registry = new ModelRegistry(s3.client, { bucket: 'registry', prefix: '' });
  for (const version of ['1', '2', '3']) {
    const path = join(dir, `m${version}.onnx`);
    copyFileSync(defaultModelPath('resnet18'), path);
    const card = { ...generatedModelCard('resnet18'), name: 'bench', version, trained: true };
    writeFileSync(cardPathFor(path), JSON.stringify(card));
    await registry.push(path, card, 'bench', version);
  }
  await registry.setAlias('bench', 'champion', '1');
  if (alias === 'challenger') await registry.setAlias('bench', 'challenger', '3');
  const config = loadConfig({
    redis: { url, prefix }, s3: s3.s3Config,
    model: { path: 's3://registry/models/bench@champion', executionProvider: 'cpu', reloadPollMs: 0, intraOpThreads: 1 },
  }, {});
  const worker = new ModerationWorker(config, { logger: pino({ level: 'silent' }) });
  await worker.start();
  const announcer = new Redis(url);
  const challenger = () => worker.status().shadow?.challenger;
  const until = async (ok: () => boolean) => { for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() - t0 > 60_000) throw new Error('timed out'); };
  if (alias === 'challenger') await until(() => challenger() === 'bench@3');
  const rss: number[] = [mb(process.memoryUsage().rss)];
  const m = machineInfo();
  console.log(`${m.cpuModel}, ${m.cores} cores (shared), Node ${m.node}; after start: RSS ${rss[0]} MB`);
  try {
    for (let i = 1; i <= reloads; i++) {
      let to: string;
      if (alias === 'champion') {
        await registry.setAlias('bench', 'champion', i % 2 === 1 ? '2' : '1');
        const outcome = await worker.requestReload('bench');
        if (outcome.kind !== 'swapped') throw new Error(`reload ${i}: ${JSON.stringify(outcome)}`);
        to = outcome.to;
      } else {
        to = i % 2 === 1 ? '2' : '3';
        await registry.setAlias('bench', 'challenger', to);
        // As `revmod model alias` announces it.
        await announcer.publish(modelAliasChannel(prefix), JSON.stringify({ registry: 's3://registry/', name: 'bench', alias: 'challenger', version: to }));
        await until(() => challenger() === `bench@${to}`);
      }
      // The replaced engine closes once its last job is done (at once here: no load).
      await new Promise((r) => setTimeout(r, 300));
      global.gc?.();
      rss.push(mb(process.memoryUsage().rss));
      console.log(`${alias} reload ${String(i).padStart(2)} → ${to}: RSS ${rss.at(-1)} MB`);
    }
    const tail = rss.slice(Math.floor(rss.length / 2));
    console.log(`RSS after reload 1: ${rss[1]} MB, after reload ${reloads}: ${rss.at(-1)} MB; second half min ${Math.min(...tail)}, max ${Math.max(...tail)} MB`);
  } finally {
    announcer.disconnect();
    await worker.close(10_000);
    await s3.close();
    await deletePrefix({ url, prefix });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
