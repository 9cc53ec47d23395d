import { readFileSync } from 'node:fs';
import { RevmodError } from '@revmod/client';
import type { RevmodConfig } from '../config';
import { CONTACT_KINDS, createTextDetector, type TextDetectorOptions } from '../detectors/text/text-detector';
import { OcrPool } from '../detectors/text/ocr-pool';
import type { ContactKind } from '../detectors/text/contact-rules';
import type { TextDetection } from '../pipeline/moderation-pipeline';

/** The detectors a worker runs, from its config: cheap ones by name for the pool, and text detection. */
export interface WorkerDetectors {
  readonly cheap: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly text: TextDetection | undefined;
  /** The process's OCR threads (closed with the worker), when text detection is on. */
  readonly ocrPool: OcrPool | undefined;
}

/** One term per line; blank lines and `#` comments skipped. */
export function readBannedWordsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `REVMOD_BANNED_WORDS_FILE: cannot read ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  const words = text.split(/\r?\n/).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l.length > 0);
  if (words.length === 0) throw new RevmodError('CONFIG_INVALID', `REVMOD_BANNED_WORDS_FILE: ${JSON.stringify(path)} lists no terms`);
  return words;
}

export function workerDetectors(config: RevmodConfig): WorkerDetectors {
  const d = config.detectors;
  const cheap: Record<string, Readonly<Record<string, unknown>>> = {};
  if (d.blur) cheap.blur = { minSharpness: d.blurMinSharpness };
  if (d.qr) cheap.qr = { formats: d.qrFormats, tryHarder: d.qrTryHarder };
  if (!d.text) return { cheap, text: undefined, ocrPool: undefined };
  // Checked here, before any thread starts: the text detector would refuse them only at the first OCR.
  const kinds: readonly string[] = CONTACT_KINDS;
  const unknown = d.contactKinds.filter((k) => !kinds.includes(k));
  if (unknown.length > 0) throw new RevmodError('CONFIG_INVALID', `REVMOD_CONTACT_KINDS: unknown kind(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; expected any of ${kinds.join(', ')}`);
  const options: Partial<TextDetectorOptions> = {
    contactKinds: d.contactKinds as ContactKind[],
    textHeavyMinLines: d.textHeavyMinLines,
    textHeavyMinChars: d.textHeavyMinChars,
    includeOcrText: d.ocrTextInEvidence,
    ...(d.bannedWordsFile !== undefined ? { bannedWords: readBannedWordsFile(d.bannedWordsFile) } : {}),
  };
  const ocrPool = new OcrPool({ threads: d.ocrThreads, maxQueued: d.ocrMaxQueued });
  return {
    cheap,
    text: { detector: createTextDetector(ocrPool), options, gate: d.textGateMinScore !== undefined ? { minScore: d.textGateMinScore } : {} },
    ocrPool,
  };
}
