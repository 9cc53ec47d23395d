/**
 * Banned words: a configurable list of Chinese and English terms, matched on compact normalised
 * text (NFKC, lower case, no spaces or punctuation), so spacing and full-width tricks do not
 * hide them.
 */
import { compactText } from './normalise';
import type { TextMatch } from './contact-rules';

/**
 * The default list: review incentives and fake orders (the commonest text violations in review
 * photos), counterfeits, and gambling. Deliberately short: every entry must be something a
 * genuine review never says. Shops replace or extend it through the detector's options.
 */
export const DEFAULT_BANNED_WORDS: readonly string[] = Object.freeze([
  '好评返现', '返现', '刷单', '刷好评', '高仿', '精仿', 'a货', '代开发票', '博彩', '赌博', '六合彩',
  'replica', 'counterfeit', 'casino',
]);

export class BannedWords {
  private readonly terms: readonly { readonly original: string; readonly compact: string }[];

  constructor(words: readonly string[] = DEFAULT_BANNED_WORDS) {
    this.terms = words.map((w) => ({ original: w, compact: compactText(w) })).filter((t) => t.compact !== '');
  }

  /** Each banned term found (once per term), with its offsets in the compact text. */
  find(text: string): TextMatch[] {
    const compact = compactText(text);
    const out: TextMatch[] = [];
    for (const t of this.terms) {
      const at = compact.indexOf(t.compact);
      if (at >= 0) out.push({ kind: 'banned', text: t.compact, value: t.compact, start: at, end: at + t.compact.length });
    }
    // A term inside a longer found term ('返现' in '好评返现') is not reported twice.
    return out.filter((m) => !out.some((o) => o !== m && o.start <= m.start && o.end >= m.end && o.text.length > m.text.length));
  }
}
