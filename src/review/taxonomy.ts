import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { RevmodError } from '@revmod/client';

/** One rejection reason: a stable code, its labels, and the dataset category it files images under. */
export interface Reason {
  readonly code: string;
  readonly zh: string;
  readonly en: string;
  /** ImageFolder class for `dataset export --layout category`. */
  readonly category: string;
}

/** The built-in taxonomy for review photos of an e-commerce shop; number keys 1–9 pick them in order. */
export const DEFAULT_TAXONOMY: readonly Reason[] = [
  { code: 'porn', zh: '色情', en: 'Pornography', category: 'porn' },
  { code: 'sexy', zh: '低俗擦边', en: 'Sexually suggestive', category: 'sexy' },
  { code: 'contact_info', zh: '联系方式 / 导流', en: 'Contact details, off-platform lead', category: 'contact' },
  { code: 'ad_spam', zh: '广告 / 刷单', en: 'Advertising or spam', category: 'spam' },
  { code: 'violence', zh: '暴力血腥', en: 'Violence or gore', category: 'violence' },
  { code: 'prohibited', zh: '违禁物品', en: 'Prohibited goods', category: 'prohibited' },
  { code: 'privacy', zh: '他人隐私', en: "Someone else's private data", category: 'privacy' },
  { code: 'unrelated', zh: '与商品无关', en: 'Unrelated to the product', category: 'unrelated' },
  { code: 'other', zh: '其他', en: 'Other', category: 'other' },
];

const reasonSchema = z.strictObject({
  code: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits and _'),
  zh: z.string().min(1).max(40),
  en: z.string().min(1).max(60),
  category: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a folder name: lower-case letters, digits, _ and -'),
});

/** Reads a taxonomy file (a JSON list of reasons); the error names the file and the problem. */
export function loadTaxonomy(path: string | undefined): readonly Reason[] {
  if (path === undefined) return DEFAULT_TAXONOMY;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `REVMOD_REVIEW_TAXONOMY_FILE ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  const parsed = z.array(reasonSchema).min(1).max(20).safeParse(json);
  if (!parsed.success) {
    throw new RevmodError('CONFIG_INVALID', `REVMOD_REVIEW_TAXONOMY_FILE ${JSON.stringify(path)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const codes = new Set<string>();
  for (const r of parsed.data) {
    if (codes.has(r.code)) throw new RevmodError('CONFIG_INVALID', `REVMOD_REVIEW_TAXONOMY_FILE ${JSON.stringify(path)}: reason ${r.code} appears twice`);
    codes.add(r.code);
  }
  return parsed.data;
}
