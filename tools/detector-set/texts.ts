/**
 * Text content for the labelled detector set: contact details (positives), benign review text
 * (hard negatives), banned phrases and screenshot-like pages. Everything is drawn from a seeded
 * generator so the set is the same on every run.
 */
import type { SeededRandom } from '../../src/util/seeded-random';

export type ContactKind = 'phone' | 'wechat' | 'qq' | 'url' | 'email';

export interface TextSample {
  /** Lines as rendered, top to bottom. */
  readonly lines: readonly string[];
  /** For contact samples: which kinds of contact detail the lines carry. */
  readonly contactKinds?: readonly ContactKind[];
  /** For banned samples: the banned term the lines carry. */
  readonly bannedTerm?: string;
  /** Script mix of the lines, for the per-language breakdown. */
  readonly lang: 'zh' | 'en' | 'mixed';
}

export function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[Math.floor(rng.next() * items.length)]!;
}

export function intIn(rng: SeededRandom, min: number, max: number): number {
  return min + Math.floor(rng.next() * (max - min + 1));
}

function digits(rng: SeededRandom, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(rng.next() * 10));
  return s;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ID_CHARS = 'abcdefghijkmnpqrstuvwxyz0123456789';

function letters(rng: SeededRandom, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LOWER[Math.floor(rng.next() * LOWER.length)];
  return s;
}

/** A WeChat-style id: starts with a letter, 6–14 characters, letters, digits and at most one '_'. */
function wechatId(rng: SeededRandom): string {
  const head = letters(rng, intIn(rng, 2, 6));
  let tail = '';
  for (let i = intIn(rng, Math.max(3, 6 - head.length), 7); i > 0; i--) tail += ID_CHARS[Math.floor(rng.next() * ID_CHARS.length)];
  return rng.next() < 0.35 ? `${head}_${tail}` : head + tail;
}

const FULL_WIDTH_DIGITS = '０１２３４５６７８９';

function toFullWidth(s: string): string {
  return s.replace(/[0-9]/g, (d) => FULL_WIDTH_DIGITS[Number(d)]!);
}

export function mobileNumber(rng: SeededRandom): string {
  return `1${pick(rng, ['3', '5', '7', '8', '9'])}${digits(rng, 9)}`;
}

function formatMobile(rng: SeededRandom, n: string): string {
  switch (intIn(rng, 0, 5)) {
    case 0: return n;
    case 1: return `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
    case 2: return `${n.slice(0, 3)}-${n.slice(3, 7)}-${n.slice(7)}`;
    case 3: return toFullWidth(n);
    case 4: return `+86 ${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
    default: return n.split('').join(' ');
  }
}

function phoneLine(rng: SeededRandom): { line: string; lang: TextSample['lang'] } {
  const n = formatMobile(rng, mobileNumber(rng));
  const zh = rng.next() < 0.65;
  const prefix = zh ? pick(rng, ['电话：', '手机：', '联系电话 ', '热线 ', '来电 ', '手机号', '电话/微信同号 ', '']) : pick(rng, ['Tel: ', 'Call ', 'Phone ', 'WhatsApp ', 'Mobile: ']);
  return { line: `${prefix}${n}`, lang: zh ? 'zh' : 'en' };
}

function wechatLine(rng: SeededRandom): { line: string; lang: TextSample['lang'] } {
  const id = wechatId(rng);
  const zh = rng.next() < 0.75;
  const kw = zh
    ? pick(rng, ['加微信 ', '微信：', '微信号 ', 'VX：', 'vx ', 'v信 ', 'V信：', '加V ', '加v：', '薇信 ', '威信：', '+V ', '加我微信 '])
    : pick(rng, ['WeChat: ', 'wechat ', 'WX: ', 'Add VX ', 'wx id: ']);
  return { line: `${kw}${id}`, lang: zh ? 'mixed' : 'en' };
}

function qqLine(rng: SeededRandom): { line: string; lang: TextSample['lang'] } {
  const n = `${intIn(rng, 1, 9)}${digits(rng, intIn(rng, 5, 9))}`;
  const kw = pick(rng, ['QQ：', 'QQ ', 'qq号 ', '加QQ ', 'QQ群 ', '扣扣 ', 'Q: ', 'QQ Group ']);
  return { line: `${kw}${n}`, lang: /[一-鿿]/.test(kw) ? 'mixed' : 'en' };
}

const TLDS = ['com', 'cn', 'net', 'top', 'shop', 'vip', 'xyz', 'com.cn', 'cc'];

function domain(rng: SeededRandom): string {
  const name = rng.next() < 0.5 ? letters(rng, intIn(rng, 4, 8)) : `${letters(rng, intIn(rng, 3, 6))}${rng.next() < 0.5 ? '-' : ''}${digits(rng, intIn(rng, 2, 4))}`;
  return `${name}.${pick(rng, TLDS)}`;
}

function urlLine(rng: SeededRandom): { line: string; lang: TextSample['lang'] } {
  const d = domain(rng);
  const url = pick(rng, [`www.${d}`, `https://${d}`, `http://www.${d}/${letters(rng, 3)}`, `${d}/${letters(rng, 2)}${digits(rng, 3)}`, `https://t.cn/${letters(rng, 2)}${digits(rng, 4)}`]);
  const prefix = pick(rng, ['', '官网 ', '店铺 ', '详情见 ', 'Visit ', 'Shop: ', '']);
  return { line: `${prefix}${url}`, lang: /[一-鿿]/.test(prefix) ? 'mixed' : 'en' };
}

function emailLine(rng: SeededRandom): { line: string; lang: TextSample['lang'] } {
  const user = rng.next() < 0.4 ? digits(rng, intIn(rng, 6, 10)) : `${letters(rng, intIn(rng, 3, 7))}${rng.next() < 0.5 ? digits(rng, 2) : ''}`;
  const host = pick(rng, ['qq.com', '163.com', 'gmail.com', '126.com', 'outlook.com', 'sina.com', domain(rng)]);
  const prefix = pick(rng, ['', '邮箱：', 'Email: ', 'mail ', '联系邮箱 ']);
  return { line: `${prefix}${user}@${host}`, lang: /[一-鿿]/.test(prefix) ? 'mixed' : 'en' };
}

const LURES_ZH = ['想要同款的私聊', '便宜出 私我', '厂家直销 量大从优', '更多款式', '需要的联系我', '招代理', '同款低价', '工厂直供'];
const LURES_EN = ['Cheaper direct', 'DM for discount', 'Factory price', 'More styles', 'Contact me'];

const CONTACT_LINES: Readonly<Record<ContactKind, (rng: SeededRandom) => { line: string; lang: TextSample['lang'] }>> = {
  phone: phoneLine,
  wechat: wechatLine,
  qq: qqLine,
  url: urlLine,
  email: emailLine,
};

export const CONTACT_KINDS: readonly ContactKind[] = ['phone', 'wechat', 'qq', 'url', 'email'];

/** One to three lines carrying one contact detail of `kind`, sometimes under a lure line. */
export function contactSample(rng: SeededRandom, kind: ContactKind): TextSample {
  const { line, lang } = CONTACT_LINES[kind](rng);
  const lines: string[] = [];
  const lure = rng.next();
  if (lure < 0.35) lines.push(pick(rng, lang === 'en' ? LURES_EN : LURES_ZH));
  lines.push(line);
  if (lure > 0.85) lines.push(pick(rng, BENIGN_ZH));
  return { lines, contactKinds: [kind], lang: lines.length > 1 && lang === 'en' ? 'mixed' : lang };
}

const BENIGN_ZH = [
  '质量很好，物流很快', '颜色和图片一样，很满意', '宝贝收到了，包装完好', '尺码偏小，建议拍大一码', '面料舒服，做工精细',
  '第二次回购了', '性价比很高，推荐', '客服态度很好', '味道不错，家人都喜欢', '发货速度快，好评', '和描述一致', '孩子很喜欢',
  '穿着很显瘦', '包装很用心', '已经推荐给朋友了', '电池很耐用', '声音很清楚', '物美价廉',
];
const BENIGN_EN = [
  'Great quality, fast shipping', 'Fits perfectly, love it', 'Exactly as described', 'Color matches the photo', 'Would buy again',
  'Soft fabric, runs small', 'Arrived in 3 days', 'Good value for money',
];

function price(rng: SeededRandom): string {
  const yuan = intIn(rng, 9, 2999);
  const cents = pick(rng, ['.00', '.90', '.99', '.50', '']);
  return pick(rng, [`¥${yuan}${cents}`, `￥${yuan}${cents}`, `原价 ¥${yuan + intIn(rng, 20, 300)} 现价 ¥${yuan}`, `$${intIn(rng, 5, 199)}.99`, `到手价 ${yuan}元`]);
}

function date(rng: SeededRandom): string {
  const y = intIn(rng, 2019, 2026);
  const m = intIn(rng, 1, 12);
  const d = intIn(rng, 1, 28);
  const p = (n: number): string => String(n).padStart(2, '0');
  return pick(rng, [`${y}-${p(m)}-${p(d)}`, `${y}年${m}月${d}日`, `${p(m)}/${p(d)} ${p(intIn(rng, 0, 23))}:${p(intIn(rng, 0, 59))}`, `${y}.${p(m)}.${p(d)}`, `收货日期 ${y}/${p(m)}/${p(d)}`]);
}

function orderNumber(rng: SeededRandom): string {
  const y = intIn(rng, 2019, 2026);
  return pick(rng, [
    `订单号：${y}${digits(rng, 12)}`,
    `订单编号 ${y}${digits(rng, 14)}`,
    `Order #${y}${digits(rng, 8)}`,
    `快递单号 SF${digits(rng, 12)}`,
    `运单号 YT${digits(rng, 13)}`,
    `批号 ${letters(rng, 2).toUpperCase()}${digits(rng, 6)}`,
  ]);
}

function clothingSize(rng: SeededRandom): string {
  const h = intIn(rng, 150, 190);
  const c = intIn(rng, 76, 104);
  return pick(rng, [
    `${pick(rng, ['S', 'M', 'L', 'XL', 'XXL'])} ${h}/${c}A`,
    `尺码：${pick(rng, ['M', 'L', 'XL'])} ${h}/${c}A`,
    `身高${h}cm 体重${intIn(rng, 45, 85)}kg 穿${pick(rng, ['M', 'L', 'XL'])}码`,
    `EU ${intIn(rng, 36, 45)} / US ${intIn(rng, 5, 12)}`,
    `净含量 ${pick(rng, ['250', '500', '750', '1000'])}ml`,
    `型号 ${letters(rng, 2).toUpperCase()}-${digits(rng, 4)}`,
  ]);
}

/** Benign text a shopper writes or photographs: review text, prices, dates, order numbers, sizes. */
export function benignSample(rng: SeededRandom): TextSample {
  const kind = intIn(rng, 0, 5);
  const lines: string[] = [];
  if (kind === 0) lines.push(pick(rng, BENIGN_ZH));
  else if (kind === 1) lines.push(pick(rng, BENIGN_EN));
  else if (kind === 2) lines.push(pick(rng, BENIGN_ZH), price(rng));
  else if (kind === 3) lines.push(date(rng), orderNumber(rng));
  else if (kind === 4) lines.push(clothingSize(rng));
  else lines.push(pick(rng, BENIGN_ZH), pick(rng, [price(rng), date(rng), clothingSize(rng)]));
  const lang = lines.every((l) => !/[一-鿿]/.test(l)) ? 'en' : lines.every((l) => !/[A-Za-z]/.test(l)) ? 'zh' : 'mixed';
  return { lines, lang };
}

/** Phrases of the default banned list (src/detectors/text/banned-words.ts) as they appear in the wild. */
const BANNED_PHRASES: readonly { readonly term: string; readonly line: string }[] = [
  { term: '好评返现', line: '好评返现 5元' },
  { term: '好评返现', line: '晒图好评返现金' },
  { term: '刷单', line: '招聘刷单兼职' },
  { term: '高仿', line: '高仿 一比一' },
  { term: '代开发票', line: '代开发票 正规' },
  { term: '博彩', line: '博彩 日赚千元' },
  { term: 'replica', line: 'Cheap replica watches' },
  { term: 'replica', line: 'REPLICA bags' },
  { term: '返现', line: '五星好评 返现3元' },
];

export function bannedSample(rng: SeededRandom): TextSample {
  const p = pick(rng, BANNED_PHRASES);
  const lines = rng.next() < 0.4 ? [pick(rng, BENIGN_ZH), p.line] : [p.line];
  return { lines, bannedTerm: p.term, lang: /[一-鿿]/.test(lines.join('')) ? (/[A-Za-z]/.test(lines.join('')) ? 'mixed' : 'zh') : 'en' };
}

/** A page of benign lines (chat or product-detail screenshot). */
export function screenshotSample(rng: SeededRandom): TextSample {
  const lines: string[] = [];
  for (let i = intIn(rng, 9, 14); i > 0; i--) {
    const r = rng.next();
    lines.push(r < 0.55 ? pick(rng, BENIGN_ZH) : r < 0.7 ? pick(rng, BENIGN_EN) : r < 0.8 ? price(rng) : r < 0.9 ? date(rng) : clothingSize(rng));
  }
  return { lines, lang: 'mixed' };
}

/** QR payloads: shop and chat links, and a few plain-text ones. */
export function qrPayload(rng: SeededRandom): string {
  const d = domain(rng);
  return pick(rng, [
    `https://${d}/item?id=${digits(rng, 8)}`,
    `https://u.wechat.com/${letters(rng, 4)}${digits(rng, 6)}`,
    `http://weixin.qq.com/r/${letters(rng, 10)}`,
    `https://www.${d}`,
    `HTTPS://QR.ALIPAY.COM/${letters(rng, 6).toUpperCase()}${digits(rng, 6)}`,
    `wxp://f2f0${letters(rng, 12)}`,
    `加好友 ${wechatId(rng)}`,
    `tel:${mobileNumber(rng)}`,
  ]);
}
