import pino, { type Logger, type LoggerOptions } from 'pino';
import { scrubSecrets } from '@revmod/client';

/** Paths never logged in clear: credentials anywhere they may appear in a logged object. */
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password',
  'secretAccessKey', '*.secretAccessKey', '*.*.secretAccessKey',
  'accessKeyId', '*.accessKeyId', '*.*.accessKeyId',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'sessionToken', '*.sessionToken',
];

function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  // Errors carry messages and stacks (often with the URL that failed): serialize, then scrub.
  if (value instanceof Error) return scrubDeep(pino.stdSerializers.err(value), depth);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubDeep(v, depth + 1);
  return out;
}

/** The process logger: JSON lines, secrets redacted by path and by pattern. */
export function createLogger(level: string, options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  return pino({
    name: 'revmod',
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    // The log formatter below has already turned errors into scrubbed plain objects: keep those as
    // they are (pino's default would re-serialize them and call them "Object").
    serializers: { err: (e: unknown) => (e instanceof Error ? scrubDeep(pino.stdSerializers.err(e)) : e) },
    formatters: { log: (obj) => scrubDeep(obj) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
    ...options,
  }, destination);
}

export type { Logger };
