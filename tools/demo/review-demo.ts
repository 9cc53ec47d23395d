import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { consumeDecisions, type ReviewDecision } from '@revmod/client';
import { configEnv, type RevmodConfig } from '../../src/config';
import { hashPassword, UsersDirectory, writeUsersFile } from '../../src/identity';
import { listen } from '../../src/ops/listen';
import { createConsoleApp } from '../../src/review/console-app';
import { exportDataset, parseTarget } from '../../src/review/dataset-export';
import type { S3Server } from '../dev/s3-server';

export interface ReviewDemoOptions {
  readonly config: RevmodConfig;
  readonly s3: S3Server;
  readonly bucket: string;
  /** Console port; 0 picks a free one. */
  readonly port: number;
  /** Where the dataset is written when the demo stops. */
  readonly exportDir: string;
  readonly logger: Logger;
  readonly print: (line: string) => void;
}

/**
 * The demo's second half: the review console over the demo's review queue, with a lead login,
 * until Ctrl-C; decisions are printed as a consumeDecisions handler receives them, and on exit the
 * decisions become a dataset (the same code as `revmod dataset export`).
 */
export async function runReviewDemo(o: ReviewDemoOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'revmod-demo-users-'));
  const usersFile = join(dir, 'users.json');
  const password = randomBytes(9).toString('base64url');
  await writeUsersFile(usersFile, { users: [{ id: 'demo', name: 'Demo lead', roles: ['lead'], password: await hashPassword(password) }] });
  const config: RevmodConfig = {
    ...o.config,
    identity: { ...o.config.identity, usersFile },
    review: {
      ...o.config.review, port: o.port, logBucket: o.bucket, logPrefix: 'revmod/decisions/', imageBuckets: [o.bucket],
      sessionSecret: randomBytes(32).toString('hex'), cookieSecure: 'never',
    },
  };
  const consoleApp = createConsoleApp({ config, users: new UsersDirectory(usersFile), logger: o.logger });
  const server = await listen(createServer(consoleApp.app), config.review.port, '127.0.0.1');
  const decisions = consumeDecisions({
    config, handler: (d: ReviewDecision) => o.print(`decision: ${d.outcome.padEnd(5)} ${d.key}  (${d.kind}, ${d.reasons.join(',') || 'no reason'}, by ${d.reviewer.id}, round ${d.round})`),
  });
  const env = configEnv({ redis: { url: config.redis.url, prefix: config.redis.prefix }, s3: o.s3.s3Config, review: { logBucket: o.bucket } });
  o.print('');
  o.print(`review console: ${server.url}/   user: demo   password: ${password}`);
  o.print('  keys: A approve · 1–9 reject with a reason · Space reveal · V single/grid · T next queue · L 中文/English · ? help');
  o.print(`  while it runs, in another terminal: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} npx revmod dataset export --since 1h --out ./dataset`);
  o.print('  Ctrl-C stops the demo and writes the dataset of your decisions.');
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
  try {
    const report = await exportDataset({
      log: consoleApp.log, s3: o.s3.client, target: parseTarget(resolve(o.exportDir)), layout: 'binary',
      taxonomy: consoleApp.taxonomy, maxBytes: config.limits.maxBytes,
    });
    o.print(`dataset: ${report.images} images in ${report.target} (${JSON.stringify(report.byClass)}), manifest.jsonl beside them`);
  } finally {
    await decisions.close();
    await server.close();
    await consoleApp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
