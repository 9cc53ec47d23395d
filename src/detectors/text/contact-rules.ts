/**
 * Contact-detail rules for OCR'd Chinese and English text: mainland mobile numbers, WeChat ids,
 * QQ numbers, URLs and e-mail addresses. Each rule reads the normalised text (normalise.ts), so
 * full-width digits and letters match like ASCII ones.
 */
import { normaliseText } from './normalise';

export type ContactKind = 'phone' | 'wechat' | 'qq' | 'url' | 'email';

export interface TextMatch {
  readonly kind: string;
  /** The matched text, normalised (keyword included: "微信:abc123"). */
  readonly text: string;
  /** The contact detail itself (the id, number, address): what masking hides. */
  readonly value: string;
  /** Offsets of the match in the normalised text. */
  readonly start: number;
  readonly end: number;
}

/** Group-length patterns a written mobile number takes: 13812345678, 138 1234 5678, 138-12345678, 1 3 8 …. */
const PHONE_SHAPES = ['11', '3,4,4', '3,8', '7,4', '2,3,4,4', '2,11', '2,3,8', '1,1,1,1,1,1,1,1,1,1,1'];

function isMobile(digits: string): boolean {
  return (digits.length === 11 && /^1[3-9]/.test(digits)) || (digits.length === 13 && /^861[3-9]/.test(digits));
}

/**
 * Mainland mobile numbers (11 digits from 13–19, optionally 86 in front) in runs of digits separated
 * by single spaces, hyphens or dots. A run that is the number, however OCR split it ("1807294957 2"),
 * matches. A run may also hold other numbers (a date before the number); the number must then be
 * whole groups of a usual written shape, so that long order and tracking numbers, which contain
 * 11-digit stretches, do not match.
 */
export function findPhones(norm: string): TextMatch[] {
  const out: TextMatch[] = [];
  for (const run of norm.matchAll(/(?<![\d])\d+(?:[ \-.]\d+)*(?![\d])/g)) {
    const groups: { digits: string; start: number; end: number }[] = [];
    for (const g of run[0].matchAll(/\d+/g)) groups.push({ digits: g[0], start: run.index + g.index, end: run.index + g.index + g[0].length });
    let found: { i: number; j: number } | undefined = isMobile(groups.map((g) => g.digits).join('')) ? { i: 0, j: groups.length - 1 } : undefined;
    for (let i = 0; i < groups.length && found === undefined; i++) {
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        digits += groups[j]!.digits;
        if (digits.length > 13) break;
        const shape = groups.slice(i, j + 1).map((g) => g.digits.length).join(',');
        if (isMobile(digits) && PHONE_SHAPES.includes(shape)) {
          found = { i, j };
          break;
        }
      }
    }
    if (found !== undefined) {
      const start = groups[found.i]!.start;
      const end = groups[found.j]!.end;
      out.push({ kind: 'phone', text: norm.slice(start, end), value: norm.slice(start, end), start, end });
    }
  }
  return out;
}

const WECHAT_KEYWORD = '(?<![a-z])(?:微信号?|威信|薇信|徽信|维信|卫信|vx|v信|wx(?:id)?|weixin|wechat|加\\s?v|\\+\\s?v|➕\\s?v)';

/**
 * A WeChat keyword ("微信", "VX", "v信", "加V", "wechat", …), fillers (号, id, ':', stray dots OCR
 * adds), then an id (6–20 characters from a letter) or a mobile number.
 */
const WECHAT = new RegExp(`${WECHAT_KEYWORD}(?:\\s*(?:号|id|:|是|=|-|_|\\.))*\\s*((?:[a-z][a-z0-9_-]{5,19})|(?:1[3-9]\\d{9}))(?![a-z0-9_-])`, 'g');

/** OCR often reads an id's '_' as a space: after an explicit "wx id:" label, one space may split the id. */
const WECHAT_SPLIT = new RegExp(`${WECHAT_KEYWORD}\\s*(?:id|号)?\\s*:\\s*([a-z][a-z0-9_-]{1,9} [a-z0-9_-]{2,10})(?![a-z0-9_-])`, 'g');

/** "QQ", "扣扣", "企鹅", fillers (号, 群, group, ':', a line break OCR adds), then 5–12 digits; or "Q:" then digits. */
const QQ = /(?<![a-z])(?:(?:qq|扣扣|企鹅)(?:\s|[:#=-]|号码|号|群|group)*|q\s*:\s*)([1-9]\d{4,11})(?!\d)/g;

const TLDS = 'com|cn|net|org|top|xyz|shop|vip|cc|me|io|co|info|site|online|link|club|store|tv|app|ltd|wang|ren|asia|biz|hk|tw|ly|ink|fun|live|work|pro';
/** URLs: with a scheme (any host), or a host with a common TLD, with or without www. */
const URL = new RegExp(
  `(?:[a-z][a-z0-9+.-]*://[^\\s]+)|(?<![a-z0-9@.-])(?:www\\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:${TLDS})(?:\\.[a-z]{2})?(?![a-z0-9-])(?:[/?#][^\\s]*)?`,
  'g',
);

const EMAIL = /[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/g;

function matchesOf(re: RegExp, kind: ContactKind, norm: string): TextMatch[] {
  return [...norm.matchAll(re)].map((m) => ({ kind, text: m[0], value: m[1] ?? m[0], start: m.index, end: m.index + m[0].length }));
}

/**
 * Contact details in OCR text (lines joined with '\n'). OCR often splits "www. shop .com" at the
 * dots; URL and e-mail rules also read a copy with spaces around '.', '/', ':' and '@' removed
 * (and '.c0m' read as '.com').
 */
export function findContacts(text: string): TextMatch[] {
  const norm = normaliseText(text.replace(/\n/g, ' \n '));
  const wechat = matchesOf(WECHAT, 'wechat', norm);
  const split = matchesOf(WECHAT_SPLIT, 'wechat', norm).filter((m) => !wechat.some((w) => w.start < m.end && m.start < w.end));
  const found: TextMatch[] = [...findPhones(norm), ...wechat, ...split, ...matchesOf(QQ, 'qq', norm)];
  const emails = matchesOf(EMAIL, 'email', norm);
  found.push(...emails);
  const inEmail = (m: TextMatch): boolean => emails.some((e) => m.start >= e.start && m.end <= e.end);
  found.push(...matchesOf(URL, 'url', norm).filter((m) => !inEmail(m)));
  // OCR reads the o of ".com" as a zero now and then.
  const tight = norm.replace(/ *([./:@]) */g, '$1').replace(/\.c0m(?![a-z0-9])/g, '.com').replace(/\.0rg(?![a-z0-9])/g, '.org');
  if (tight !== norm) {
    const known = new Set(found.map((m) => m.text.replace(/ /g, '')));
    for (const m of [...matchesOf(EMAIL, 'email', tight), ...matchesOf(URL, 'url', tight)]) {
      if (!known.has(m.text) && ![...known].some((k) => k.includes(m.text))) {
        found.push({ ...m, start: -1, end: -1 });
        known.add(m.text);
      }
    }
  }
  return dedupe(found);
}

function dedupe(matches: TextMatch[]): TextMatch[] {
  const seen = new Set<string>();
  return matches
    .sort((a, b) => a.start - b.start || b.end - a.end)
    .filter((m) => {
      const key = `${m.kind}:${m.text}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
