import { Option, type Command } from 'commander';
import { createRedisConnection, ModerationClient } from '@revmod/client';
import { clientConfigOf, loadConfig } from '../../config';
import { KnownLists, type EntrySource } from '../../known/known-lists';
import { listStoreOf } from '../../known/list-store';
import type { ListKind, ListAction } from '../../known/list-types';
import { S3ObjectStore } from '../../storage';
import { createS3Client } from '../../storage/s3-object-store';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import { nonNegativeInt, positiveInt, type Runner } from '../program';

/** The lists from the environment's config (Redis, the S3 journal and the image store), closed after `use`. */
async function withLists<T>(ctx: CliContext, use: (lists: KnownLists) => Promise<T>): Promise<T> {
  const config = loadConfig({}, ctx.env);
  const redis = createRedisConnection(config, 'producer');
  redis.on('error', () => undefined);
  const s3 = createS3Client(config.s3, 8);
  const objects = new S3ObjectStore(config.s3, s3);
  const verdicts = new ModerationClient({ config: clientConfigOf(config), connection: redis });
  const lists = new KnownLists({
    store: listStoreOf(redis, s3, config), objects, allowedBuckets: config.requests.allowedBuckets,
    verdictOf: (id) => verdicts.getVerdict(id), maxBytes: config.limits.maxBytes,
    decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg },
  });
  try {
    return await use(lists);
  } finally {
    await verdicts.close();
    s3.destroy();
    await redis.quit().catch(() => redis.disconnect());
  }
}

interface SourceOptions {
  readonly hash?: string;
  readonly quality?: number;
  readonly key?: string;
  readonly bucket?: string;
  readonly versionId?: string;
  readonly verdict?: string;
}

/** Exactly one of `--hash HEX`, `--key s3://B/K` (or `--bucket B --key K`), `--verdict ID`. */
export function sourceOf(opts: SourceOptions): EntrySource {
  const given = [opts.hash !== undefined && '--hash', opts.key !== undefined && '--key', opts.verdict !== undefined && '--verdict'].filter(Boolean);
  if (given.length !== 1) throw new UsageError(`name the image with one of --hash HEX, --key s3://BUCKET/KEY or --verdict ID, received ${given.length === 0 ? 'none' : given.join(' and ')}`);
  if (opts.hash !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(opts.hash)) throw new UsageError(`--hash must be a PDQ hash of 64 hex digits, received ${JSON.stringify(opts.hash)}`);
    return { hash: opts.hash.toLowerCase(), ...(opts.quality !== undefined ? { quality: opts.quality } : {}) };
  }
  if (opts.verdict !== undefined) return { verdictId: opts.verdict };
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(opts.key!);
  const { bucket, key } = m ? { bucket: m[1]!, key: m[2]! } : { bucket: opts.bucket, key: opts.key! };
  if (bucket === undefined) throw new UsageError(`--key needs --bucket, or the form s3://BUCKET/KEY, received ${JSON.stringify(opts.key)}`);
  return { bucket, key, ...(opts.versionId !== undefined ? { versionId: opts.versionId } : {}) };
}

const quality = (value: string): number => {
  const n = nonNegativeInt(value);
  if (n > 100) throw new UsageError(`--quality must be 0–100, received ${value}`);
  return n;
};

/** The options that name an image. */
function imageOptions(c: Command): Command {
  return c
    .option('--hash <hex>', 'a PDQ hash (64 hex digits)')
    .option('--quality <n>', 'with --hash: its PDQ quality (0–100)', quality)
    .option('--key <key>', 'an image in S3: s3://BUCKET/KEY, or KEY with --bucket (fetched and hashed as a worker would)')
    .option('--bucket <bucket>', 'the bucket of --key')
    .option('--version-id <id>', 'with --key: that version of the object')
    .option('--verdict <id>', 'the image a verdict judged (its job id; the bytes must still be the same)');
}

export function registerListsCommands(program: Command, ctx: CliContext, run: Runner): void {
  const reporting = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => run(async (...args: A) => {
    ctx.out(JSON.stringify(await fn(...args)));
    return EXIT.ok;
  });
  const lists = program.command('lists').description('known-image lists: copies of listed images are blocked (or passed) without inference');

  lists.command('create')
    .description('create a list (again with the same settings: no change)')
    .argument('<name>', 'list name: a-z 0-9 . _ -')
    .addOption(new Option('--kind <kind>', 'block: copies are known violations; allow: known-good images').choices(['block', 'allow']).makeOptionMandatory())
    .addOption(new Option('--action <action>', 'what a match asks for (block lists: block or review; allow lists: pass)').choices(['block', 'review', 'pass']))
    .option('--max-distance <n>', 'largest Hamming distance that matches', nonNegativeInt, 31)
    .option('--min-quality <n>', 'uploads below this PDQ quality never match', nonNegativeInt, 50)
    .option('--description <text>', 'what the list is for')
    .option('--by <name>', 'who creates it (recorded)', 'cli')
    .action(reporting(async (name: string, o: { kind: ListKind; action?: ListAction; maxDistance: number; minQuality: number; description?: string; by: string }) =>
      withLists(ctx, (l) => l.create({
        name, kind: o.kind, maxDistance: o.maxDistance, minQuality: o.minQuality,
        ...(o.action ? { action: o.action } : {}), ...(o.description ? { description: o.description } : {}),
      }, o.by))));

  lists.command('delete')
    .description('delete a list and its entries')
    .argument('<name>', 'list name')
    .action(reporting(async (name: string) => withLists(ctx, async (l) => { await l.delete(name); return { deleted: name }; })));

  imageOptions(lists.command('add'))
    .description('add an image to a list; prints the entry')
    .argument('<name>', 'list name')
    .option('--note <text>', 'why (recorded with the entry)')
    .option('--by <name>', 'who adds it (recorded)', 'cli')
    .action(reporting(async (name: string, o: SourceOptions & { note?: string; by: string }) => {
      const source = sourceOf(o);
      return withLists(ctx, (l) => l.add(name, source, o.by, o.note));
    }));

  imageOptions(lists.command('remove'))
    .description('remove an image (or an entry by id) from a list')
    .argument('<name>', 'list name')
    .option('--entry <id>', 'the entry id `show` or `add` printed')
    .action(reporting(async (name: string, o: SourceOptions & { entry?: string }) => {
      const source = o.entry !== undefined ? { entryId: o.entry } : sourceOf(o);
      return withLists(ctx, async (l) => ({ removed: await l.remove(name, source) }));
    }));

  lists.command('show')
    .description('every list with its entry count, or one list with its first entries')
    .argument('[name]', 'list name')
    .option('--limit <n>', 'entries shown', positiveInt, 20)
    .action(reporting(async (name: string | undefined, o: { limit: number }) =>
      withLists(ctx, async (l) => (name === undefined ? { lists: await l.lists() } : l.show(name, o.limit)))));

  imageOptions(lists.command('lookup'))
    .description('the lists an image matches, nearest first')
    .action(reporting(async (o: SourceOptions) => {
      const source = sourceOf(o);
      return withLists(ctx, (l) => l.lookup(source));
    }));
}
