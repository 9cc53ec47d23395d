/**
 * The model registry: versions and aliases in S3, beside each other.
 *
 *   <prefix>models/<name>/<version>/model.onnx
 *   <prefix>models/<name>/<version>/card.json       the card as served (its version is <version>)
 *   <prefix>models/<name>/<version>/version.json    sha256, bytes, when and by whom it was pushed
 *   <prefix>models/<name>/aliases/<alias>.json      { version, setAt, previous }
 *
 * Versions are immutable: a push never replaces one. Aliases (champion, challenger, …) are the only
 * thing that moves; `alias champion <previous>` is the rollback. A reference names a registry, a
 * model and an alias or version: `s3://bucket/prefix/models/<name>@<alias|version>`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RevmodError } from '@revmod/client';
import { mapS3Error } from '../storage/map-s3-error';
import { cardPathFor, parseModelCard, type ModelCard } from './model-card';

/** Where a registry lives: a bucket and a key prefix ('' or ending in '/'). */
export interface RegistryLocation {
  readonly bucket: string;
  readonly prefix: string;
}

export interface ModelReference {
  readonly registry: RegistryLocation;
  readonly name: string;
  /** An alias or a version. */
  readonly ref: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether a model path setting is a registry reference rather than a local file. */
export function isRegistryReference(path: string): boolean {
  return path.startsWith('s3://');
}

/** `s3://bucket[/prefix]`: the registry itself (push, list). */
export function parseRegistryLocation(value: string): RegistryLocation {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(value);
  if (!m) throw new RevmodError('CONFIG_INVALID', `a model registry is s3://BUCKET[/PREFIX], received ${JSON.stringify(value)}`);
  const rest = m[2]!.replace(/\/+$/, '');
  return { bucket: m[1]!, prefix: rest === '' ? '' : `${rest}/` };
}

/** `s3://bucket[/prefix]/models/<name>@<alias|version>`. */
export function parseModelReference(value: string): ModelReference {
  const m = /^s3:\/\/([^/]+)\/(?:(.*)\/)?models\/([^/@]+)@([^/@]+)$/.exec(value);
  if (!m || !NAME.test(m[3]!) || !NAME.test(m[4]!)) {
    throw new RevmodError('CONFIG_INVALID', `a registry reference is s3://BUCKET[/PREFIX]/models/NAME@ALIAS (or @VERSION), received ${JSON.stringify(value)}`);
  }
  return { registry: { bucket: m[1]!, prefix: m[2] ? `${m[2]}/` : '' }, name: m[3]!, ref: m[4]! };
}

export function formatReference(r: ModelReference): string {
  return `s3://${r.registry.bucket}/${r.registry.prefix}models/${r.name}@${r.ref}`;
}

export interface VersionRecord {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly pushedAt: string;
}

export interface AliasRecord {
  readonly alias: string;
  readonly version: string;
  readonly setAt: string;
  /** The version it pointed at before, if any. */
  readonly previous: string | null;
}

export interface RegistryVersion extends VersionRecord {
  readonly card: ModelCard;
  /** Aliases pointing at it. */
  readonly aliases: readonly string[];
}

/** A version fetched to local files, as loadModel reads them. */
export interface FetchedVersion {
  readonly modelPath: string;
  readonly version: VersionRecord;
  /** The alias resolved, if the reference named one. */
  readonly alias: string | undefined;
}

function checkName(what: string, value: string): void {
  if (!NAME.test(value)) throw new RevmodError('CONFIG_INVALID', `${what} must be 1–128 letters, digits, '.', '_' or '-' (starting with a letter or digit), received ${JSON.stringify(value)}`);
}

export class ModelRegistry {
  constructor(private readonly s3: S3Client, readonly location: RegistryLocation) {}

  private key(...parts: string[]): string {
    return `${this.location.prefix}models/${parts.join('/')}`;
  }

  private async getText(key: string): Promise<string | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return await res.Body!.transformToString('utf8');
    } catch (err) {
      const e = mapS3Error(err, this.location.bucket, key);
      if (e.code === 'OBJECT_NOT_FOUND') return undefined;
      throw e;
    }
  }

  private async getBytes(key: string): Promise<Buffer> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      throw mapS3Error(err, this.location.bucket, key);
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return true;
    } catch (err) {
      const e = mapS3Error(err, this.location.bucket, key);
      if (e.code === 'OBJECT_NOT_FOUND') return false;
      throw e;
    }
  }

  private async put(key: string, body: Buffer | string): Promise<void> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: body }));
    } catch (err) {
      throw mapS3Error(err, this.location.bucket, key);
    }
  }

  /** Every key under `prefix`. */
  private async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /**
   * The names of the "folders" right under `prefix`. Derived from a full listing, not a Delimiter
   * query: s3rver answers Delimiter queries wrongly for keys two or more levels down.
   */
  private async children(prefix: string): Promise<string[]> {
    const names = new Set<string>();
    for (const k of await this.list(prefix)) {
      const rest = k.slice(prefix.length);
      const i = rest.indexOf('/');
      if (i > 0) names.add(rest.slice(0, i));
    }
    return [...names].sort();
  }

  /**
   * Uploads a model and its card as `name`/`version`. The card stored is the file's, with its
   * version set to `version`. Refuses an existing version (versions never change once pushed).
   */
  async push(modelPath: string, cardInput: Record<string, unknown>, name: string, version: string): Promise<VersionRecord> {
    checkName('the model name', name);
    checkName('the version', version);
    const card = { ...cardInput, version };
    parseModelCard(card, `${cardPathFor(modelPath)} (as version ${version})`);
    if (await this.exists(this.key(name, version, 'version.json'))) {
      throw new RevmodError('CONFIG_INVALID', `${name}@${version} is already in the registry: versions are never replaced; push it as a new version`);
    }
    const bytes = await readFile(modelPath);
    const record: VersionRecord = { name, version, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, pushedAt: new Date().toISOString() };
    await this.put(this.key(name, version, 'model.onnx'), bytes);
    await this.put(this.key(name, version, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
    // Written last: a version without it is an interrupted push, invisible to list and resolve.
    await this.put(this.key(name, version, 'version.json'), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }

  async versionRecord(name: string, version: string): Promise<VersionRecord | undefined> {
    const text = await this.getText(this.key(name, version, 'version.json'));
    return text === undefined ? undefined : (JSON.parse(text) as VersionRecord);
  }

  async alias(name: string, alias: string): Promise<AliasRecord | undefined> {
    const text = await this.getText(this.key(name, 'aliases', `${alias}.json`));
    return text === undefined ? undefined : (JSON.parse(text) as AliasRecord);
  }

  /** Points `alias` at `version` (which must exist); returns the record written. */
  async setAlias(name: string, alias: string, version: string): Promise<AliasRecord> {
    checkName('the alias', alias);
    if (alias === 'aliases') throw new RevmodError('CONFIG_INVALID', `'aliases' cannot be an alias name`);
    if ((await this.versionRecord(name, version)) === undefined) {
      const known = (await this.versions(name)).map((v) => v.version);
      throw new RevmodError('MODEL_INVALID', `${name}@${version} is not in the registry s3://${this.location.bucket}/${this.location.prefix} (versions: ${known.join(', ') || 'none'})`);
    }
    const before = await this.alias(name, alias);
    const record: AliasRecord = { alias, version, setAt: new Date().toISOString(), previous: before?.version ?? null };
    await this.put(this.key(name, 'aliases', `${alias}.json`), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }

  /** Removes an alias (a challenger no longer wanted); returns the version it pointed at, if it was set. */
  async removeAlias(name: string, alias: string): Promise<string | undefined> {
    const before = await this.alias(name, alias);
    if (!before) return undefined;
    const key = this.key(name, 'aliases', `${alias}.json`);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key }));
    } catch (err) {
      throw mapS3Error(err, this.location.bucket, key);
    }
    return before.version;
  }

  /** Model names in the registry. */
  async names(): Promise<string[]> {
    return this.children(this.key(''));
  }

  /** Every complete version of `name` with its card and aliases, oldest push first. */
  async versions(name: string): Promise<RegistryVersion[]> {
    const aliases = await this.aliases(name);
    const out: RegistryVersion[] = [];
    for (const version of await this.children(this.key(name, ''))) {
      if (version === 'aliases') continue;
      const record = await this.versionRecord(name, version);
      const cardText = record && (await this.getText(this.key(name, version, 'card.json')));
      if (!record || cardText === undefined) continue;
      out.push({ ...record, card: parseModelCard(JSON.parse(cardText), `s3://${this.location.bucket}/${this.key(name, version, 'card.json')}`),
        aliases: aliases.filter((a) => a.version === version).map((a) => a.alias).sort() });
    }
    return out.sort((a, b) => a.pushedAt.localeCompare(b.pushedAt));
  }

  async aliases(name: string): Promise<AliasRecord[]> {
    const keys = await this.list(this.key(name, 'aliases', ''));
    const out: AliasRecord[] = [];
    for (const k of keys.filter((x) => x.endsWith('.json'))) {
      const text = await this.getText(k);
      if (text !== undefined) out.push(JSON.parse(text) as AliasRecord);
    }
    return out;
  }

  /** The version a reference names: an alias's target, else the version itself. */
  async resolve(name: string, ref: string): Promise<{ version: VersionRecord; alias: string | undefined }> {
    const alias = await this.alias(name, ref);
    const version = alias?.version ?? ref;
    const record = await this.versionRecord(name, version);
    if (!record) {
      throw new RevmodError('MODEL_INVALID', alias
        ? `alias ${name}@${ref} points at ${version}, which is not in the registry s3://${this.location.bucket}/${this.location.prefix}`
        : `${name}@${ref} is neither an alias nor a version in the registry s3://${this.location.bucket}/${this.location.prefix}`);
    }
    return { version: record, alias: alias ? ref : undefined };
  }

  /**
   * Downloads a version into `cacheDir/<name>/<version>/` (model.onnx and model.card.json) unless
   * it is there already, checking the model's sha256; returns the local model path.
   */
  async fetch(name: string, ref: string, cacheDir: string): Promise<FetchedVersion> {
    const { version, alias } = await this.resolve(name, ref);
    const dir = join(cacheDir, name, version.version);
    const modelPath = join(dir, 'model.onnx');
    const cached = await readFile(modelPath).catch(() => undefined);
    if (cached && createHash('sha256').update(cached).digest('hex') === version.sha256) return { modelPath, version, alias };
    const bytes = await this.getBytes(this.key(name, version.version, 'model.onnx'));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== version.sha256) {
      throw new RevmodError('MODEL_INVALID', `${name}@${version.version}: model.onnx in the registry has sha256 ${sha}, its version.json says ${version.sha256}`);
    }
    const card = await this.getBytes(this.key(name, version.version, 'card.json'));
    await mkdir(dir, { recursive: true });
    // Card first, model last and by rename: a model file in the cache always has its card.
    await writeFile(cardPathFor(modelPath), card);
    const tmp = `${modelPath}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, modelPath);
    return { modelPath, version, alias };
  }
}
