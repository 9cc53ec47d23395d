import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RevmodError, toRevmodError, type ListRequest } from '@revmod/client';
import type { KnownLists } from './known-lists';

/** Options of {@link ListRequestWorker}. */
export interface ListRequestWorkerOptions {
  readonly lists: KnownLists;
  /** A connection that may block (maxRetriesPerRequest null). */
  readonly connection: Redis;
  readonly queue: string;
  readonly prefix: string;
  readonly logger: Logger;
}

/**
 * Answers the SDK's list requests (`ListsClient`: addToList, removeFromList, lookup) in a worker
 * process, which has what they need: S3, the decoder and PDQ, and the live index. A request is
 * tried once: its error (with its stable code first, `LIST_NOT_FOUND: …`) goes back to the caller.
 */
export class ListRequestWorker {
  private readonly worker: Worker<ListRequest>;
  private closing: Promise<void> | undefined;

  constructor(private readonly o: ListRequestWorkerOptions) {
    this.worker = new Worker<ListRequest>(o.queue, async (job) => {
      try {
        return await this.answer(job.data);
      } catch (err) {
        const e = toRevmodError(err);
        o.logger.info({ op: job.data.op, code: e.code }, `list request refused: ${e.message}`);
        throw new UnrecoverableError(`${e.code}: ${e.message}`);
      }
    }, { connection: o.connection, prefix: o.prefix, concurrency: 4 });
    this.worker.on('error', (err) => o.logger.warn({ err: err.message }, 'list request worker error'));
  }

  private async answer(r: ListRequest): Promise<unknown> {
    const by = typeof r.by === 'string' && r.by !== '' ? r.by.slice(0, 100) : 'sdk';
    switch (r.op) {
      case 'add': return this.o.lists.add(r.list, r.source, by, typeof r.note === 'string' ? r.note.slice(0, 500) : undefined);
      case 'remove': return { removed: await this.o.lists.remove(r.list, r.source) };
      case 'lookup': return this.o.lists.lookup(r.source);
      default: throw new RevmodError('LIST_INVALID', `op must be add, remove or lookup, received ${JSON.stringify((r as { op?: unknown }).op)}`);
    }
  }

  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  close(): Promise<void> {
    this.closing ??= this.worker.close();
    return this.closing;
  }
}
