import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { isRegistryReference, ModelRegistry, parseModelReference, type ModelReference } from './model-registry';

/** The Redis channel on which `revmod model alias` announces alias moves (workers reload on it). */
export function modelAliasChannel(redisPrefix: string): string {
  return `${redisPrefix}:model-alias`;
}

/** What `revmod model alias` publishes on {@link modelAliasChannel}. */
export interface AliasMoved {
  readonly registry: string;
  readonly name: string;
  readonly alias: string;
  /** null: the alias was removed (`revmod model unalias`). */
  readonly version: string | null;
}

/** A model to serve, resolved to local files. */
export interface SourcedModel {
  readonly modelPath: string;
  /** The registry version, when the setting is a registry reference. */
  readonly version: string | undefined;
}

/**
 * Where a worker's model comes from: the REVMOD_MODEL_PATH setting, a local file or a registry
 * reference (`s3://bucket/prefix/models/<name>@<alias|version>`), fetched into a local cache.
 */
export class ModelSource {
  readonly reference: ModelReference | undefined;
  private readonly registry: ModelRegistry | undefined;
  private readonly s3: S3Client | undefined;

  constructor(readonly setting: string, s3: () => S3Client, private readonly cacheDir = join(tmpdir(), 'revmod-models')) {
    this.reference = isRegistryReference(setting) ? parseModelReference(setting) : undefined;
    this.s3 = this.reference ? s3() : undefined;
    this.registry = this.reference && this.s3 ? new ModelRegistry(this.s3, this.reference.registry) : undefined;
  }

  /** Releases the S3 client (idempotent). */
  close(): void {
    this.s3?.destroy();
  }

  /** Whether the model can move (a registry alias): then workers watch it. */
  get movable(): boolean {
    return this.reference !== undefined;
  }

  /** Whether an announced alias move concerns this source. */
  concerns(m: AliasMoved): boolean {
    const r = this.reference;
    return r !== undefined && m.name === r.name && m.alias === r.ref && m.registry === `s3://${r.registry.bucket}/${r.registry.prefix}`;
  }

  /** The version the reference names now (an alias is looked up), without downloading. */
  async currentVersion(): Promise<string | undefined> {
    if (!this.registry || !this.reference) return undefined;
    return (await this.registry.resolve(this.reference.name, this.reference.ref)).version.version;
  }

  /**
   * The version the reference names now, or undefined when it names an alias that is not set
   * (a `challenger` nobody has pointed anywhere yet).
   */
  async target(): Promise<string | undefined> {
    if (!this.registry || !this.reference) return undefined;
    const alias = await this.registry.alias(this.reference.name, this.reference.ref);
    if (alias) return alias.version;
    return (await this.registry.versionRecord(this.reference.name, this.reference.ref))?.version;
  }

  async fetch(): Promise<SourcedModel> {
    if (!this.registry || !this.reference) return { modelPath: this.setting, version: undefined };
    const fetched = await this.registry.fetch(this.reference.name, this.reference.ref, this.cacheDir);
    return { modelPath: fetched.modelPath, version: fetched.version.version };
  }
}
