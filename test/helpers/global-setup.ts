import { spawnSync } from 'node:child_process';
import { redisAnswers } from '../../src/dev/local-redis';
import { ensureModel } from '../../src/model/ensure-model';

/** Once per jest run: a Redis to talk to, and the generated models (written once, not per file). */
export default async function globalSetup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(url))) {
    const port = new URL(url).port || '6379';
    const r = spawnSync('redis-server', ['--port', port, '--bind', '127.0.0.1', '--daemonize', 'yes', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
    if (r.error || r.status !== 0) throw new Error(`no Redis answers at ${url} and redis-server could not be started (${r.error?.message ?? `exit ${r.status}`}); install redis-server or set REDIS_URL`);
    for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await new Promise((res) => setTimeout(res, 100));
  }
  await ensureModel({ kind: 'resnet18' });
  await ensureModel({ kind: 'probe' });
}
