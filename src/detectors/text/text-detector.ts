/**
 * The text detector: OCR (in the OCR pool) behind the text gate, then contact-detail rules,
 * banned words and a screenshot (text-heavy) check on what was read.
 */
import { isBoolean, integerIn, resolveOptions, stringList } from '../options';
import type { DetectorDescriptor, DetectorSignal, PixelView } from '../types';
import { BannedWords, DEFAULT_BANNED_WORDS } from './banned-words';
import { findContacts, type ContactKind, type TextMatch } from './contact-rules';
import type { OcrEngineOptions, OcrResult } from './paddle-ocr';
import { textGate } from './text-gate';

export interface TextDetectorOptions {
  /**
   * Contact-detail kinds reported as `contact_info`.
   * @defaultValue ['phone', 'wechat', 'qq', 'url', 'email']
   */
  readonly contactKinds: readonly ContactKind[];
  /**
   * Terms reported as `banned_text` (Chinese or English; matched ignoring case, width, spaces and punctuation).
   * @defaultValue DEFAULT_BANNED_WORDS (banned-words.ts)
   */
  readonly bannedWords: readonly string[];
  /**
   * `text_heavy` (a screenshot or a page of text) needs at least this many OCR lines…
   * @defaultValue 6
   */
  readonly textHeavyMinLines: number;
  /**
   * …and at least this many characters (spaces not counted).
   * @defaultValue 50
   */
  readonly textHeavyMinChars: number;
  /**
   * Put the whole OCR text (up to `maxOcrTextChars`) into every text signal's evidence. Off by
   * default: OCR text can hold personal data that verdict consumers should not store.
   * @defaultValue false
   */
  readonly includeOcrText: boolean;
  /**
   * Longest OCR text kept in evidence when `includeOcrText` is on, in characters.
   * @defaultValue 2000
   */
  readonly maxOcrTextChars: number;
  /**
   * Detector input size for OCR: see OcrEngineOptions.detMaxSidePx.
   * @defaultValue 960
   */
  readonly detMaxSidePx: number;
}

export const CONTACT_KINDS: readonly ContactKind[] = ['phone', 'wechat', 'qq', 'url', 'email'];

export const DEFAULT_TEXT_DETECTOR_OPTIONS: TextDetectorOptions = Object.freeze({
  contactKinds: CONTACT_KINDS,
  bannedWords: DEFAULT_BANNED_WORDS,
  textHeavyMinLines: 6,
  textHeavyMinChars: 50,
  includeOcrText: false,
  maxOcrTextChars: 2000,
  detMaxSidePx: 960,
});

const CHECKS = {
  contactKinds: (v: readonly string[]) => stringList()(v) ?? (v.every((k) => (CONTACT_KINDS as readonly string[]).includes(k)) ? undefined : `must list only ${CONTACT_KINDS.join(', ')}`),
  bannedWords: stringList(),
  textHeavyMinLines: integerIn(1, 10_000),
  textHeavyMinChars: integerIn(1, 1_000_000),
  includeOcrText: isBoolean(),
  maxOcrTextChars: integerIn(0, 1_000_000),
  detMaxSidePx: integerIn(64, 4096),
};

/** What the text detector needs from OCR: an OcrPool, or anything with the same method. */
export interface OcrRunner {
  recognise(view: PixelView, options?: Partial<OcrEngineOptions>): Promise<OcrResult>;
}

export interface MatchEvidence {
  readonly kind: string;
  readonly text: string;
  readonly value: string;
}

export interface TextEvidence {
  readonly matches?: readonly MatchEvidence[];
  readonly lines: number;
  readonly chars: number;
  readonly textAreaFraction: number;
  readonly ocrText?: string;
}

const bannedCache = new WeakMap<readonly string[], BannedWords>();

function bannedFor(words: readonly string[]): BannedWords {
  let b = bannedCache.get(words);
  if (b === undefined) {
    b = new BannedWords(words);
    bannedCache.set(words, b);
  }
  return b;
}

function asEvidence(m: TextMatch): MatchEvidence {
  return { kind: m.kind, text: m.text, value: m.value };
}

/** Signals from OCR output alone: the rules half of the detector, also used by the evaluator. */
export function textSignals(ocr: Pick<OcrResult, 'lines' | 'textAreaFraction'>, options?: Partial<TextDetectorOptions>): DetectorSignal<TextEvidence>[] {
  const o = resolveOptions('text', DEFAULT_TEXT_DETECTOR_OPTIONS, options, CHECKS);
  const text = ocr.lines.map((l) => l.text).join('\n');
  const chars = text.replace(/\s/g, '').length;
  const base: TextEvidence = {
    lines: ocr.lines.length,
    chars,
    textAreaFraction: ocr.textAreaFraction,
    ...(o.includeOcrText ? { ocrText: text.slice(0, o.maxOcrTextChars) } : {}),
  };
  const signals: DetectorSignal<TextEvidence>[] = [];
  const contacts = findContacts(text).filter((m) => (o.contactKinds as readonly string[]).includes(m.kind));
  if (contacts.length > 0) signals.push({ reason: 'contact_info', evidence: { ...base, matches: contacts.map(asEvidence) } });
  const banned = bannedFor(o.bannedWords).find(text);
  if (banned.length > 0) signals.push({ reason: 'banned_text', evidence: { ...base, matches: banned.map(asEvidence) } });
  if (ocr.lines.length >= o.textHeavyMinLines && chars >= o.textHeavyMinChars) signals.push({ reason: 'text_heavy', evidence: base });
  return signals;
}

export type TextDetector = DetectorDescriptor<TextDetectorOptions, { readonly kind: 'rgb'; readonly maxSidePx: 1024 }, TextEvidence> & {
  /** Run first on its own view; call `detect` only when it passes. */
  readonly gate: typeof textGate;
};

/** The text detector over an OCR runner (normally the process's one OcrPool). */
export function createTextDetector(ocr: OcrRunner): TextDetector {
  return Object.freeze({
    name: 'text',
    view: Object.freeze({ kind: 'rgb', maxSidePx: 1024 } as const),
    cost: 'expensive',
    defaults: DEFAULT_TEXT_DETECTOR_OPTIONS,
    gate: textGate,
    async detect(view: PixelView, options?: Partial<TextDetectorOptions>): Promise<readonly DetectorSignal<TextEvidence>[]> {
      const o = resolveOptions('text', DEFAULT_TEXT_DETECTOR_OPTIONS, options, CHECKS);
      const result = await ocr.recognise(view, { detMaxSidePx: o.detMaxSidePx });
      return textSignals(result, o);
    },
  });
}
