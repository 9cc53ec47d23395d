import { ensureRedis } from '../../tools/dev/redis-server';
import { ensureModel } from '../../tools/model-gen/ensure-model';

/** Once per jest run: a Redis to talk to (left running), and the generated models (written once, not per file). */
export default async function globalSetup(): Promise<void> {
  await ensureRedis(process.env.REDIS_URL, { daemonize: true });
  await ensureModel({ kind: 'resnet18' });
  await ensureModel({ kind: 'probe' });
}
