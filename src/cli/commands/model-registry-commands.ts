import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, type RevmodConfig } from '../../config';
import { cardPathFor } from '../../model/model-card';
import { isRegistryReference, ModelRegistry, parseModelReference, parseRegistryLocation, type RegistryLocation } from '../../model/model-registry';
import { createS3Client } from '../../storage/s3-object-store';
import { createRedisConnection } from '@revmod/client';
import { modelAliasChannel, type AliasMoved } from '../../model/model-source';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import type { Runner } from '../program';

interface RegistryOptions {
  readonly registry?: string;
  readonly name?: string;
}

/** --registry, else the registry of REVMOD_MODEL_PATH when that is a registry reference. */
function registryLocation(opts: RegistryOptions, config: RevmodConfig): RegistryLocation {
  if (opts.registry !== undefined) return parseRegistryLocation(opts.registry);
  if (isRegistryReference(config.model.path)) return parseModelReference(config.model.path).registry;
  throw new UsageError('--registry s3://BUCKET[/PREFIX] is needed (or REVMOD_MODEL_PATH set to s3://…/models/NAME@ALIAS), received neither');
}

async function withRegistry<T>(opts: RegistryOptions, ctx: CliContext, use: (r: ModelRegistry, config: RevmodConfig) => Promise<T>): Promise<T> {
  const config = loadConfig({}, ctx.env);
  const s3 = createS3Client(config.s3);
  try {
    return await use(new ModelRegistry(s3, registryLocation(opts, config)), config);
  } finally {
    s3.destroy();
  }
}

/** --name, else the model of REVMOD_MODEL_PATH, else the registry's only model. */
async function modelName(opts: RegistryOptions, registry: ModelRegistry, config: RevmodConfig): Promise<string> {
  if (opts.name !== undefined) return opts.name;
  if (isRegistryReference(config.model.path)) return parseModelReference(config.model.path).name;
  const names = await registry.names();
  if (names.length === 1) return names[0]!;
  throw new UsageError(`--name is needed: the registry holds ${names.length === 0 ? 'no models' : `several models (${names.join(', ')})`}`);
}

/**
 * Tells running workers that an alias moved (Redis pub/sub). Best effort: a worker that misses it
 * finds the move on its next poll of the registry (REVMOD_MODEL_RELOAD_POLL_MS).
 */
async function announce(config: RevmodConfig, moved: AliasMoved): Promise<{ workers: number } | { error: string }> {
  const redis = createRedisConnection(config, 'producer');
  redis.on('error', () => undefined);
  try {
    const workers = await Promise.race([
      redis.publish(modelAliasChannel(config.redis.prefix), JSON.stringify(moved)),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('Redis did not answer within 3 s')), 3_000).unref()),
    ]);
    return { workers };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}

const silent: Omit<CliContext, 'env'> = { out: () => undefined, err: () => undefined, exit: (code) => { throw new Error(`exit(${code})`); } };

/** Loads a model as a worker would and runs a dummy batch; throws when it cannot (model-commands' checkModel). */
export type ModelChecker = (path: string, opts: { provider: 'cpu'; batch: number; json: boolean }, ctx: CliContext) => Promise<number>;

export function registerRegistryCommands(model: Command, ctx: CliContext, run: Runner, checkModel: ModelChecker): void {
  const registryOption = ['--registry <s3://bucket/prefix>', 'the model registry (default: the registry of REVMOD_MODEL_PATH when it is s3://…/models/NAME@ALIAS)'] as const;
  model.command('push')
    .description('upload a model and its card to the registry as a new, immutable version (models/<name>/<version>/{model.onnx, card.json})')
    .argument('<file>', 'the .onnx file (its card beside it)')
    .option('--version <v>', 'the version to push as (default: the card\'s version; the stored card says this version)')
    .option('--name <name>', 'the model name (default: the card\'s name)')
    .option(...registryOption)
    .option('--allow-untrained', 'push a card that says trained: false (demo models)')
    .option('--force', 'push although the card records a failed train–serve parity check')
    .action(run(async (file: string, opts: RegistryOptions & { version?: string; allowUntrained?: boolean; force?: boolean }) => {
      const card = JSON.parse(await readFile(cardPathFor(file), 'utf8').catch((err: Error) => { throw new UsageError(`the card of ${file} cannot be read: ${err.message}`); })) as Record<string, any>;
      if (card.trained === false && !opts.allowUntrained) throw new UsageError(`${file}: the card says trained: false; pass --allow-untrained to push it anyway`);
      if (card.metadata?.parity?.passed === false && !opts.force) {
        throw new UsageError(`${file}: the card records a failed train–serve parity check (max |Δp| ${card.metadata.parity.maxAbsDeltaP ?? '?'}); pass --force to push it anyway`);
      }
      // The model must load with its card as a worker would (I/O contract, one dummy batch).
      if (await checkModel(file, { provider: 'cpu', batch: 1, json: true }, { ...silent, env: ctx.env }) !== EXIT.ok) {
        throw new UsageError(`${file}: the model produced non-finite outputs on a dummy batch (revmod model check ${file})`);
      }
      return withRegistry(opts, ctx, async (registry) => {
        const record = await registry.push(file, card, opts.name ?? String(card.name), opts.version ?? String(card.version));
        ctx.out(JSON.stringify({ pushed: `s3://${registry.location.bucket}/${registry.location.prefix}models/${record.name}/${record.version}/`, ...record }));
        return EXIT.ok;
      });
    }));
  model.command('alias')
    .description('point an alias (champion, challenger, …) at a version; rollback is `alias champion <previous>`')
    .argument('<alias>', 'the alias')
    .argument('<version>', 'a version in the registry')
    .option('--name <name>', 'the model name (default: REVMOD_MODEL_PATH\'s, or the registry\'s only model)')
    .option(...registryOption)
    .action(run(async (alias: string, version: string, opts: RegistryOptions) => withRegistry(opts, ctx, async (registry, config) => {
      const name = await modelName(opts, registry, config);
      const record = await registry.setAlias(name, alias, version);
      const announced = await announce(config, { registry: `s3://${registry.location.bucket}/${registry.location.prefix}`, name, alias, version });
      if ('error' in announced) ctx.err(`revmod: alias moved, but workers could not be told at once (${announced.error}); they follow on their next registry poll`);
      ctx.out(JSON.stringify({ name, ...record, announcedTo: 'workers' in announced ? announced.workers : null }));
      return EXIT.ok;
    })));
  model.command('unalias')
    .description('remove an alias (e.g. `unalias challenger` ends shadow scoring); the champion cannot be removed')
    .argument('<alias>', 'the alias')
    .option('--name <name>', 'the model name (default: REVMOD_MODEL_PATH\'s, or the registry\'s only model)')
    .option(...registryOption)
    .action(run(async (alias: string, opts: RegistryOptions) => withRegistry(opts, ctx, async (registry, config) => {
      // Workers serving `@champion` would have nothing to serve.
      if (alias === 'champion') throw new UsageError('the champion alias cannot be removed: point it at another version (`revmod model alias champion VERSION`)');
      const name = await modelName(opts, registry, config);
      const was = await registry.removeAlias(name, alias);
      if (was === undefined) throw new UsageError(`${name}@${alias} is not set in s3://${registry.location.bucket}/${registry.location.prefix}`);
      const announced = await announce(config, { registry: `s3://${registry.location.bucket}/${registry.location.prefix}`, name, alias, version: null });
      if ('error' in announced) ctx.err(`revmod: alias removed, but workers could not be told at once (${announced.error}); they follow on their next registry poll`);
      ctx.out(JSON.stringify({ name, alias, removed: was, announcedTo: 'workers' in announced ? announced.workers : null }));
      return EXIT.ok;
    })));
  model.command('list')
    .description('versions in the registry with their aliases, sha256 and validation metrics')
    .option('--name <name>', 'only this model')
    .option(...registryOption)
    .option('--json', 'print JSON')
    .action(run(async (opts: RegistryOptions & { json?: boolean }) => withRegistry(opts, ctx, async (registry) => {
      const names = opts.name !== undefined ? [opts.name] : await registry.names();
      const rows = [];
      for (const name of names) {
        for (const v of await registry.versions(name)) {
          const meta = (v.card.metadata ?? {}) as Record<string, any>;
          rows.push({
            name, version: v.version, aliases: v.aliases, sha256: v.sha256, bytes: v.bytes, pushedAt: v.pushedAt, trained: v.card.trained,
            violateThreshold: v.card.thresholds.violate,
            metrics: { accuracy: meta.validation?.accuracy ?? null, recall: meta.validation?.violate?.recall ?? null, precision: meta.validation?.violate?.precision ?? null,
              parityMaxAbsDeltaP: meta.parity?.maxAbsDeltaP ?? null, calibratedFor: meta.calibration?.target ?? null },
          });
        }
      }
      if (opts.json) ctx.out(JSON.stringify(rows, null, 2));
      else {
        ctx.out(['name', 'version', 'aliases', 'sha256', 'pushed', 'violate', 'accuracy', 'parity'].join('\t'));
        for (const r of rows) {
          ctx.out([r.name, r.version, r.aliases.join(',') || '-', r.sha256.slice(0, 12), r.pushedAt, r.violateThreshold, r.metrics.accuracy ?? '-', r.metrics.parityMaxAbsDeltaP ?? '-'].join('\t'));
        }
      }
      return EXIT.ok;
    })));
}
