import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Verdict } from '@revmod/client';
import type { RevmodConfig } from '../config';
import type { InferenceEngine } from '../model/inference-engine';
import type { LoadedModel } from '../model/load-model';
import type { ModelCard } from '../model/model-card';
import { formatReference } from '../model/model-registry';
import { ModelSource, type AliasMoved } from '../model/model-source';
import type { PipelineObserver } from '../pipeline/pipeline-observer';
import type { Policy } from '../policy';
import { ShadowBudget } from '../shadow/shadow-budget';
import { ShadowLog } from '../shadow/shadow-log';
import { ShadowScorer } from '../shadow/shadow-scorer';

/** What the shadow lane is doing. */
export type ShadowState = 'off' | 'unset' | 'same-as-champion' | 'loading' | 'scoring' | 'failed';

export interface ShadowStatus {
  readonly state: ShadowState;
  /** The alias followed (REVMOD_SHADOW_ALIAS), when on. */
  readonly alias: string | undefined;
  /** name@version of the challenger scoring now. */
  readonly challenger: string | undefined;
  readonly share: number;
  readonly compared: number;
  readonly disagreed: number;
  /** Images waiting for or in a challenger run. */
  readonly pending: number;
  /** The last challenger that could not be loaded, and why (the champion is unaffected). */
  readonly lastError: { readonly at: string; readonly version: string | undefined; readonly message: string } | undefined;
}

export interface ShadowLaneDeps {
  readonly config: RevmodConfig;
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** The worker's Redis connection (the shadow log). */
  readonly redis: Redis;
  readonly s3: () => S3Client;
  /** Loads a model as the worker loads its champion (the same refusals). */
  readonly load: (modelPath: string) => Promise<LoadedModel>;
  readonly policyOf: (model: LoadedModel) => Promise<Policy>;
  readonly createEngine: (modelPath: string, card: ModelCard, intraOpThreads: number) => InferenceEngine;
  /** The champion's version now: a challenger at the same version is not scored. */
  readonly championVersion: () => string | undefined;
  readonly sendToReview: (verdict: Verdict) => Promise<void>;
}

/**
 * The challenger beside a champion served by registry alias: it follows REVMOD_SHADOW_ALIAS as the
 * champion follows its own (announcements and polls), and scores within REVMOD_SHADOW_SHARE of the
 * time. A challenger that fails to load is reported and nothing else happens.
 */
export class ShadowLane {
  private readonly source: ModelSource | undefined;
  private readonly budget: ShadowBudget;
  private readonly log: ShadowLog;
  private scorer: ShadowScorer | undefined;
  private stateValue: ShadowState;
  private lastError: ShadowStatus['lastError'];
  private refreshing: Promise<void> = Promise.resolve();
  private queued = false;
  private closed = false;
  /** What the alias named at the last refresh. */
  private seenTarget: string | undefined;
  private readonly retiring = new Set<Promise<void>>();

  constructor(champion: ModelSource, private readonly deps: ShadowLaneDeps) {
    const { shadow } = deps.config;
    const on = champion.reference !== undefined && shadow.share > 0 && shadow.alias !== champion.reference.ref;
    this.source = on ? new ModelSource(formatReference({ ...champion.reference!, ref: shadow.alias }), deps.s3) : undefined;
    this.stateValue = on ? 'unset' : 'off';
    this.budget = new ShadowBudget({ share: shadow.share });
    this.log = new ShadowLog(deps.redis, deps.config.redis.prefix, shadow.logMaxEntries, shadow.jobTtlSeconds);
  }

  /** The challenger scoring now, if any. */
  current(): ShadowScorer | undefined {
    return this.scorer;
  }

  status(): ShadowStatus {
    return {
      state: this.stateValue, alias: this.source ? this.deps.config.shadow.alias : undefined, challenger: this.scorer?.name,
      share: this.budget.share, compared: this.scorer?.compared ?? 0, disagreed: this.scorer?.disagreed ?? 0, pending: this.scorer?.pending ?? 0, lastError: this.lastError,
    };
  }

  /** Whether an announced alias move concerns the challenger. */
  concerns(moved: AliasMoved): boolean {
    return this.source?.concerns(moved) ?? false;
  }

  /**
   * Looks the alias up and loads, swaps or drops the challenger accordingly. One refresh at a time
   * (one more queued at most); never rejects.
   */
  refresh(why: string): Promise<void> {
    if (!this.source || this.closed) return Promise.resolve();
    if (this.queued) return this.refreshing;
    this.queued = true;
    this.refreshing = this.refreshing.then(() => {
      this.queued = false;
      return this.doRefresh(why);
    });
    return this.refreshing;
  }

  /**
   * The poll: refreshes when the alias names another version than at the last refresh (a version
   * that failed to load is not retried), or when the champion moved onto or off the challenger.
   */
  async poll(): Promise<void> {
    if (!this.source || this.closed) return;
    try {
      const target = await this.source.target();
      const sameAsChampion = target !== undefined && target === this.deps.championVersion();
      if (target !== this.seenTarget || sameAsChampion !== (this.stateValue === 'same-as-champion')) {
        await this.refresh(`poll: ${this.deps.config.shadow.alias} now at ${target ?? 'nothing'}`);
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'shadow alias poll failed; scoring on');
    }
  }

  private async doRefresh(why: string): Promise<void> {
    const { logger } = this.deps;
    const source = this.source!;
    const alias = this.deps.config.shadow.alias;
    let target: string | undefined;
    try {
      target = await source.target();
      this.seenTarget = target;
      if (this.closed) return;
      if (target === undefined) {
        if (this.scorer) logger.info({ why }, `shadow scoring stopped: ${alias} is not set`);
        this.stateValue = 'unset';
        this.retire();
        return;
      }
      if (target === this.deps.championVersion()) {
        if (this.stateValue !== 'same-as-champion') logger.info({ why, version: target }, `shadow scoring paused: ${alias} is the champion's version ${target}`);
        this.stateValue = 'same-as-champion';
        this.retire();
        return;
      }
      if (this.scorer && this.scorer.name.endsWith(`@${target}`)) return;
      this.stateValue = 'loading';
      const sourced = await source.fetch();
      const model = await this.deps.load(sourced.modelPath);
      const policy = await this.deps.policyOf(model);
      const engine = this.deps.createEngine(sourced.modelPath, model.card, this.deps.config.shadow.intraOpThreads);
      try {
        await engine.start();
      } catch (err) {
        await engine.close().catch(() => undefined);
        throw err;
      }
      const { config } = this.deps;
      const scorer = new ShadowScorer({
        engine, model: { name: model.card.name, version: model.card.version, sha256: model.sha256 }, card: model.card, policy,
        decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode },
        budget: this.budget, log: this.log, batchSize: config.batch.size, maxWaitMs: config.batch.maxWaitMs,
        reviewRate: config.shadow.reviewRate, sendToReview: this.deps.sendToReview, logger,
        ...(this.deps.observer ? { observer: this.deps.observer } : {}),
      });
      if (this.closed) {
        await scorer.close();
        return;
      }
      this.retire();
      this.scorer = scorer;
      this.stateValue = 'scoring';
      this.lastError = undefined;
      logger.info({ why, challenger: scorer.name, share: this.budget.share }, `shadow scoring with ${scorer.name} beside the champion (at most ${Math.round(this.budget.share * 100)} % of the time)`);
    } catch (err) {
      const message = (err as Error).message;
      this.retire();
      this.stateValue = 'failed';
      this.lastError = { at: new Date().toISOString(), version: target, message };
      logger.error({ why, version: target, err: message }, `challenger ${alias}${target ? ` (${target})` : ''} could not be loaded; no shadow scoring, the champion is unaffected`);
    }
  }

  /** Stops the current challenger; its images in flight finish, then its engine closes. */
  private retire(): void {
    const old = this.scorer;
    if (!old) return;
    this.scorer = undefined;
    const closing = old.close().catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'closing the replaced challenger failed'));
    this.retiring.add(closing);
    void closing.finally(() => this.retiring.delete(closing));
  }

  /** Stops scoring and closes every challenger engine (idempotent). */
  async close(): Promise<void> {
    this.closed = true;
    await this.refreshing.catch(() => undefined);
    this.retire();
    await Promise.all(this.retiring);
    this.source?.close();
  }
}
