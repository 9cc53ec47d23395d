/**
 * Promotion and rollback with two worker PROCESSES under load: both serve
 * `s3://registry/ml/models/<probe>@champion`; `revmod model alias champion 2.0.0` promotes,
 * `revmod model alias champion 1.0.0` rolls back, and each process follows within seconds, seen in
 * the verdicts it publishes. One process also polls the alias: a rollback whose announcement it
 * never heard still reaches it. Every job gets exactly one verdict, on its first attempt, naming
 * the one version that judged it.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Verdict } from '@revmod/client';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import { cardPathFor } from '../../src/model/model-card';
import { ModelRegistry } from '../../src/model/model-registry';
import { S3Server } from '../../tools/dev/s3-server';
import type { WorkerProcess } from '../../tools/chaos/worker-process';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { FleetClients, waitUntil, WorkerFleet, workerIdOf } from '../helpers/fault-harness';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const PHOTOS = 'rollback-photos';
/** Distinct images (no verdict is reused for identical bytes); the load submits them until stopped. */
const IMAGES = 900;
/** Jobs in flight while the alias moves. */
const IN_FLIGHT = 8;
/** The "within seconds": from the command to the process's first verdict by the new version. */
const FOLLOW_BOUND_MS = 5_000;
/** The polling process's interval; the other only hears announcements. */
const POLL_MS = 300;
const VERSIONS = ['1.0.0', '2.0.0'];

const quiet: Omit<CliContext, 'env'> = { out: () => undefined, err: () => undefined, exit: (c) => { throw new Error(`exit(${c})`); } };

interface Swap {
  readonly why: string;
  readonly to: string;
}

describe('promotion and rollback by alias, two worker processes under load', () => {
  const prefix = uniquePrefix('rollback');
  // Its own model name: the workers' download cache ($TMPDIR/revmod-models/<name>/<version>) is
  // shared with other test files, which push other cards as probe@1.0.0.
  const model = uniquePrefix('probe');
  const reference = `s3://registry/ml/models/${model}@champion`;
  let s3: S3Server;
  let dir: string;
  let fleet: WorkerFleet;
  let io: FleetClients;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [PHOTOS, 'registry'] });
    dir = mkdtempSync(join(tmpdir(), 'revmod-rollback-'));
    const keys = Array.from({ length: IMAGES }, (_, i) => i);
    for (let start = 0; start < IMAGES; start += 50) {
      await Promise.all(keys.slice(start, start + 50).map(async (i) => {
        const background = { r: i % 256, g: 40 * Math.floor(i / 256), b: (i * 53) % 256 };
        await s3.put(PHOTOS, `img-${i}.png`, await sharp({ create: { width: 48, height: 48, channels: 3, background } }).png().toBuffer());
      }));
    }
    const registry = new ModelRegistry(s3.client, { bucket: 'registry', prefix: 'ml/' });
    for (const version of VERSIONS) {
      const path = join(dir, `probe-${version}.onnx`);
      copyFileSync(defaultModelPath('probe'), path);
      const card = { ...generatedModelCard('probe'), name: model, version, trained: true };
      writeFileSync(cardPathFor(path), JSON.stringify(card));
      await registry.push(path, card, model, version);
    }
    await registry.setAlias(model, 'champion', '1.0.0');
    config = testConfig({ redis: { prefix }, s3: s3.s3Config });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix, s3Env: s3.env, modelPath: reference,
      intraOpThreads: 1, batchSize: 4, batchMaxWaitMs: 10,
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'revmod-models', model), { recursive: true, force: true });
  });

  it('both processes follow champion → 2.0.0 and back to 1.0.0 within seconds; a missed rollback is polled; nothing lost or repeated', async () => {
    const swaps = new Map<string, Swap[]>();
    const start = (name: string, reloadPollMs: number): WorkerProcess => {
      const list: Swap[] = [];
      swaps.set(name, list);
      return fleet.start(name, { reloadPollMs }, {
        onLine: (line) => {
          if (!line.includes('"msg":"model swapped to')) return;
          const { why, to } = JSON.parse(line) as { why: string; to: string };
          list.push({ why, to: to.slice(to.lastIndexOf('@') + 1) });
        },
      });
    };
    const a = start('announced-only', 0);
    const b = start('polling', POLL_MS);
    const workers = [a, b];
    await Promise.all(workers.map((w) => w.ready()));

    const env = configEnv({ s3: s3.s3Config, redis: { url: TEST_REDIS_URL, prefix } });
    const alias = (version: string) => runCli(['model', 'alias', 'champion', version, '--registry', 's3://registry/ml', '--name', model], { ...quiet, env });
    const by = (w: WorkerProcess) => io.collector.verdicts.filter((v) => workerIdOf(w).test(v.worker));
    const decided = (v: Verdict) => Date.parse(v.decidedAt);

    // Jobs keep arriving while the alias moves: IN_FLIGHT at any time.
    const submitted: string[] = [];
    let loadRunning = true;
    const load = (async () => {
      while (loadRunning && submitted.length < IMAGES) {
        if (submitted.length - io.collector.verdicts.length < IN_FLIGHT) submitted.push((await io.client.submit({ bucket: PHOTOS, key: `img-${submitted.length}.png` })).jobId);
        else await new Promise((r) => setTimeout(r, 5));
      }
    })();

    /** Each of `who` publishes a verdict by `version` decided at or after `since`; returns the follow time of each. */
    const follow = async (phase: string, version: string, since: number, who: readonly WorkerProcess[]): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      for (const w of who) {
        const first = await waitUntil(`${w.name} judging with ${version} (${phase})`, () => {
          const judged = by(w).filter((v) => v.model.version === version && decided(v) >= since).map(decided);
          return judged.length > 0 ? Math.min(...judged) : undefined;
        }, 20_000, 10).catch((err: Error) => { throw new Error(`${err.message}\n${fleet.tails()}`); });
        times[w.name] = first - since;
      }
      return times;
    };
    /** Moves the alias by the command; returns when each of `who` judged a few images with it. */
    const command = async (phase: string, version: string, who = workers) => {
      const at = Date.now();
      expect(await alias(version)).toBe(0);
      const times = await follow(phase, version, at, who);
      await waitUntil(`more verdicts by ${version} (${phase})`, () => (who.every((w) => by(w).filter((v) => decided(v) >= at && v.model.version === version).length >= 5) ? true : undefined), 20_000, 10);
      return { phase, version, at, followMs: times };
    };

    // Both processes take jobs before anything moves.
    await waitUntil('verdicts from both processes', () => (workers.every((w) => by(w).length >= 5) ? true : undefined), 30_000);
    expect(io.collector.verdicts.every((v) => v.model.version === '1.0.0')).toBe(true);

    const phases: Array<{ phase: string; version: string; at: number; followMs: Record<string, number> }> = [];
    phases.push(await command('promote', '2.0.0'));
    phases.push(await command('rollback', '1.0.0'));
    phases.push(await command('promote again', '2.0.0'));

    // A rollback whose announcement is missed (the alias object written directly): only the
    // polling process follows, the other keeps judging with 2.0.0.
    const missedAt = Date.now();
    await new ModelRegistry(s3.client, { bucket: 'registry', prefix: 'ml/' }).setAlias(model, 'champion', '1.0.0');
    const polled = await follow('rollback, announcement missed', '1.0.0', missedAt, [b]);
    const bBack = missedAt + polled[b.name]!;
    await waitUntil('announced-only still judging with 2.0.0', () => (by(a).filter((v) => decided(v) > bBack + 1_000 && v.model.version === '2.0.0').length >= 5 ? true : undefined), 20_000, 10);
    phases.push({ phase: 'rollback, announcement missed', version: '1.0.0', at: missedAt, followMs: polled });
    // The command then brings the other back too (the polling one already is: nothing to swap).
    const finalAt = Date.now();
    phases.push(await command('rollback by command after the missed one', '1.0.0', [a]));
    expect(by(a).filter((v) => decided(v) > bBack + 1_000 && decided(v) < finalAt && v.model.version !== '2.0.0')).toEqual([]);

    loadRunning = false;
    await load;
    expect(submitted.length).toBeLessThan(IMAGES); // the load never ran dry
    await io.collector.waitFor(submitted.length, 60_000);
    const counts = await io.inspector.settledCounts();
    const verdicts = io.collector.verdicts;

    // Per process, by decision time, the version changes only at the moves it followed: before the
    // first everything is on 1.0.0, and from its first verdict by a move's version until its next
    // move, only jobs that were already in flight at the swap (IN_FLIGHT at most) may still finish
    // on the old pipeline.
    const lateOld: Record<string, number[]> = {};
    for (const w of workers) {
      const mine = by(w);
      const followed = phases.filter((p) => p.followMs[w.name] !== undefined);
      expect(mine.filter((v) => decided(v) < followed[0]!.at && v.model.version !== '1.0.0')).toEqual([]);
      lateOld[w.name] = followed.map((p, i) => {
        const from = p.at + p.followMs[w.name]!;
        const to = followed[i + 1]?.at ?? Infinity;
        return mine.filter((v) => decided(v) >= from && decided(v) < to && v.model.version !== p.version).length;
      });
    }
    // Measured, for docs/model-lifecycle.md.
    console.log(JSON.stringify({
      jobs: submitted.length, byWorker: Object.fromEntries(workers.map((w) => [w.name, by(w).length])), lateOld,
      phases: phases.map((p) => ({ phase: p.phase, version: p.version, followMs: p.followMs })),
    }));
    for (const [name, late] of Object.entries(lateOld)) expect({ name, late: late.filter((n) => n > IN_FLIGHT) }).toEqual({ name, late: [] });
    for (const p of phases) for (const ms of Object.values(p.followMs)) expect(ms).toBeLessThan(FOLLOW_BOUND_MS);

    // Exactly once: one verdict per job, none lost, none repeated, all on the first attempt.
    const ledger = await io.inspector.ledger(submitted, verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: submitted.length });
    expect(counts).toMatchObject({ completed: submitted.length, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(verdicts.filter((v) => v.error !== undefined)).toEqual([]);
    expect(verdicts.filter((v) => v.attempt !== 1).map((v) => v.key)).toEqual([]);
    expect(verdicts.filter((v) => v.reusedFrom !== undefined)).toEqual([]);
    expect(verdicts.filter((v) => !VERSIONS.includes(v.model.version) || v.model.name !== model)).toEqual([]);
    expect(verdicts.filter((v) => !workers.some((w) => workerIdOf(w).test(v.worker)))).toEqual([]);

    // Each process swapped exactly as the alias moved, the announced-only one on announcements only.
    expect(swaps.get(a.name)).toEqual(['2.0.0', '1.0.0', '2.0.0', '1.0.0'].map((to) => ({ why: `announced: champion → ${to}`, to })));
    expect(swaps.get(b.name)!.map((s) => s.to)).toEqual(['2.0.0', '1.0.0', '2.0.0', '1.0.0']);
    expect(swaps.get(b.name)![3]!.why).toBe('poll: alias now at 1.0.0');
  }, 120_000);
});
