import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

const REPO_ROOT = resolve(__dirname, '../..');
const PACKAGE_DIR = join(REPO_ROOT, 'packages/client');

/**
 * The SDK as an upload service gets it: built, packed with `npm pack`, installed into an empty
 * project from npm's cache, and used from plain Node (no TypeScript loader) against a real Redis.
 */
describe('@revmod/client installs and works on its own', () => {
  const prefix = uniquePrefix('client-package');
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'revmod-client-package-'));
  });

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('depends on bullmq and ioredis only, and submits a job from a fresh install', () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; files: string[] };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['bullmq', 'ioredis']);

    // Build a copy (the checkout stays as it is: its shim serves the sources).
    const pkg = join(work, 'pkg');
    mkdirSync(pkg);
    for (const f of ['package.json', 'index.js', 'README.md', 'CHANGELOG.md']) cpSync(join(PACKAGE_DIR, f), join(pkg, f));
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PACKAGE_DIR, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: REPO_ROOT });
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: pkg, encoding: 'utf8' }).trim().split('\n').pop()!;
    const packed = execFileSync('tar', ['-tzf', join(work, tarball)], { encoding: 'utf8' });
    expect(packed).toContain('package/dist/index.js');
    expect(packed).not.toContain('package/src/');

    const app = join(work, 'upload-service');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'upload-service', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, tarball)], { cwd: app, stdio: 'pipe', timeout: 170_000 });
    const installed = readdirSync(join(app, 'node_modules'));
    for (const heavy of ['onnxruntime-node', 'sharp', '@aws-sdk', 'zod', 'express']) expect({ heavy, installed: installed.includes(heavy) }).toEqual({ heavy, installed: false });
    expect(existsSync(join(app, 'node_modules/@revmod/client/dist/index.js'))).toBe(true);

    const script = `
      const { ModerationClient, jobIdFor, VERDICT_SCHEMA_VERSION } = require('@revmod/client');
      (async () => {
        const client = new ModerationClient({ config: { redis: { url: process.argv[1], prefix: process.argv[2] } } });
        const { jobId } = await client.submit({ bucket: 'reviews', key: 'shop-1/1.jpg', meta: { reviewId: 1 } });
        const job = await client.queue.getJob(jobId);
        let refused = '';
        try { await client.submit({ bucket: 'Bad_Bucket', key: 'x' }); } catch (err) { refused = err.code + ': ' + err.message; }
        await client.close();
        console.log(JSON.stringify({ jobId, expected: jobIdFor('reviews', 'shop-1/1.jpg'), data: job.data, schema: VERDICT_SCHEMA_VERSION, refused }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script, TEST_REDIS_URL, prefix], { cwd: app, encoding: 'utf8' })) as Record<string, unknown>;
    // No version given and no S3 client: deduplicated while pending, under the key's id plus a suffix.
    expect(String(out.jobId)).toMatch(new RegExp(`^${String(out.expected)}-[0-9a-z]+$`));
    expect(out).toMatchObject({
      data: { bucket: 'reviews', key: 'shop-1/1.jpg', meta: { reviewId: 1 } },
      schema: 2,
      refused: expect.stringMatching(/^INVALID_JOB: bucket must be an S3 bucket name/),
    });
  }, 180_000);
});
