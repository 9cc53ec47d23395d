import { BannedWords, DEFAULT_BANNED_WORDS } from '../../src/detectors/text/banned-words';
import { findContacts } from '../../src/detectors/text/contact-rules';
import { maskMatch, maskSignalForLog, maskSpan } from '../../src/detectors/text/mask';
import { compactText, normaliseText } from '../../src/detectors/text/normalise';
import { textSignals } from '../../src/detectors/text/text-detector';

const kinds = (text: string): string[] => findContacts(text).map((m) => m.kind);

describe('text normalisation', () => {
  it('turns full-width forms into ASCII, lower-cases and collapses spaces', () => {
    expect(normaliseText('ＶＸ：ＡＢＣ１２３　４５')).toBe('vx:abc123 45');
    expect(compactText('好 评-返，现!')).toBe('好评返现');
  });
});

describe('contact rules', () => {
  it.each([
    ['电话：13812345678', 'phone', '13812345678'],
    ['手机 138 1234 5678', 'phone', '138 1234 5678'],
    ['Tel: 138-1234-5678', 'phone', '138-1234-5678'],
    ['来电 １３８１２３４５６７８', 'phone', '13812345678'],
    ['call +86 159 1234 5678', 'phone', '86 159 1234 5678'],
    ['热线 1 3 8 1 2 3 4 5 6 7 8', 'phone', '1 3 8 1 2 3 4 5 6 7 8'],
    ['2024-06-15 138 1234 5678', 'phone', '138 1234 5678'],
    ['加微信 abc_12345', 'wechat', 'abc_12345'],
    ['VX：shop8888a', 'wechat', 'shop8888a'],
    ['v信 xiaomei520', 'wechat', 'xiaomei520'],
    ['加V: hello_2024', 'wechat', 'hello_2024'],
    ['薇信 qwe123456', 'wechat', 'qwe123456'],
    ['WeChat: lily_store01', 'wechat', 'lily_store01'],
    ['微信号是 13812345678', 'wechat', '13812345678'],
    ['QQ：12345678', 'qq', '12345678'],
    ['扣扣 987654321', 'qq', '987654321'],
    ['加QQ群 123456789', 'qq', '123456789'],
    ['ＱＱ　２３４５６７８', 'qq', '2345678'],
    ['www.shop-8888.com', 'url', 'www.shop-8888.com'],
    ['详情见 https://t.cn/abc123', 'url', 'https://t.cn/abc123'],
    ['lucky-mall.cn/a1', 'url', 'lucky-mall.cn/a1'],
    ['www. shop88 .com', 'url', 'www.shop88.com'],
    ['邮箱：lily2024@qq.com', 'email', 'lily2024@qq.com'],
    ['service@shop88.com.cn', 'email', 'service@shop88.com.cn'],
    // As PaddleOCR misreads them: a line split with a repeated 号, '_' read as a space, a digit split
    // off, '+86' run into the number, a zero for the o of .com, stray dots.
    ['qq号\n号7158149097', 'qq', '7158149097'],
    ['Wx id: dmr ribtm', 'wechat', 'dmr ribtm'],
    ['WhatsApp1807294957 2', 'phone', '1807294957 2'],
    ['来电+8617888277774', 'phone', '8617888277774'],
    ['mail8718650936@126.c0m', 'email', 'mail8718650936@126.com'],
    ['wxid:.rw3gzf.', 'wechat', 'rw3gzf'],
  ])('%s → %s', (text, kind, value) => {
    const found = findContacts(text);
    expect(found.map((m) => m.kind)).toContain(kind);
    expect(found.find((m) => m.kind === kind)!.value).toBe(value);
  });

  it.each([
    '质量很好，物流很快',
    '¥128.00',
    '原价 ¥299 现价 ¥199',
    '2024-06-15',
    '2023年11月11日 14:30',
    '订单号：2024061512345678',
    '订单编号 20241234567890123456',
    '快递单号 SF123456789012',
    '运单号 YT7890123456789',
    'XL 175/92A',
    '身高170cm 体重60kg 穿L码',
    'EU 42 / US 9',
    '净含量 500ml',
    '型号 AB-2031',
    '微信支付很方便',
    'Great quality, fast shipping 5.0',
    '用了qq音乐',
    'ver 1.2.3',
    '运单 7158 1490 97',
    '订单 2024 0615 1381 2345 678',
    'wx is great',
  ])('no contact detail in %s', (text) => {
    expect(kinds(text)).toEqual([]);
  });

  it('reads across lines and reports each detail once', () => {
    const found = findContacts('想要同款的私聊\n加微信 abc_12345\n电话 13812345678 电话 13812345678');
    expect(found.map((m) => `${m.kind}:${m.value}`)).toEqual(['wechat:abc_12345', 'phone:13812345678']);
  });
});

describe('banned words', () => {
  it('match through spacing, width and case, once per term, longest term first', () => {
    const b = new BannedWords();
    expect(b.find('五星 好评 返 现 3元').map((m) => m.text)).toEqual(['好评返现']);
    expect(b.find('ＲＥＰＬＩＣＡ bags').map((m) => m.text)).toEqual(['replica']);
    expect(b.find('质量很好，物流很快')).toEqual([]);
  });

  it('take a custom list', () => {
    const b = new BannedWords(['Cheap Watch', '代购']);
    expect(b.find('cheap-watch here, 代 购').map((m) => m.text)).toEqual(['cheapwatch', '代购']);
    expect(b.find('好评返现')).toEqual([]);
    expect(DEFAULT_BANNED_WORDS).toContain('好评返现');
  });
});

describe('masking for logs', () => {
  it('hides the contact detail but keeps its kind recognisable', () => {
    expect(maskSpan('13812345678', 'phone')).toBe('138****5678');
    expect(maskSpan('+86 138 1234 5678', 'phone')).toBe('861******5678');
    expect(maskSpan('lily2024@qq.com', 'email')).toBe('li******@q***.com');
    expect(maskSpan('https://shop-8888.com/item?id=1', 'url')).toBe('https://sh*******.com/…');
    expect(maskMatch({ kind: 'wechat', text: '加微信 abc_12345', value: 'abc_12345' })).toBe('加微信 ab*******');
    expect(maskMatch({ kind: 'qq', text: 'qq:12345678', value: '12345678' })).toBe('qq:12******');
  });
});

describe('text signals from OCR lines', () => {
  const line = (text: string) => ({ text, confidence: 0.9, box: [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 0.1 }, { x: 0, y: 0.1 }] as const });

  it('gives contact_info and banned_text with the matched spans, and no OCR text unless asked', () => {
    const signals = textSignals({ lines: [line('好评返现5元'), line('加微信 abc_12345')], textAreaFraction: 0.05 });
    expect(signals.map((s) => s.reason)).toEqual(['contact_info', 'banned_text']);
    expect(signals[0]!.evidence.matches).toEqual([{ kind: 'wechat', text: '微信 abc_12345', value: 'abc_12345' }]);
    expect(signals[1]!.evidence.matches![0]!.text).toBe('好评返现');
    expect(signals[0]!.evidence.ocrText).toBeUndefined();
    const withText = textSignals({ lines: [line('QQ 12345678')], textAreaFraction: 0.01 }, { includeOcrText: true, maxOcrTextChars: 4 });
    expect(withText[0]!.evidence.ocrText).toBe('QQ 1');
  });

  it('calls a page of text text_heavy, and a caption not', () => {
    const page = Array.from({ length: 8 }, (_, i) => line(`质量很好，物流很快 第${i}行`));
    expect(textSignals({ lines: page, textAreaFraction: 0.3 }).map((s) => s.reason)).toEqual(['text_heavy']);
    expect(textSignals({ lines: page.slice(0, 2), textAreaFraction: 0.05 })).toEqual([]);
  });

  it('honours the kinds it is told to report', () => {
    expect(textSignals({ lines: [line('QQ 12345678')], textAreaFraction: 0 }, { contactKinds: ['phone'] })).toEqual([]);
    expect(() => textSignals({ lines: [], textAreaFraction: 0 }, { contactKinds: ['fax' as 'phone'] })).toThrow(/detectors\.text\.contactKinds must list only/);
  });
});

describe('signals for logs', () => {
  it('masks matches and QR payloads, drops OCR text, leaves other evidence as is', () => {
    const text = maskSignalForLog({ reason: 'contact_info', evidence: { matches: [{ kind: 'phone', text: '电话 13812345678', value: '13812345678' }], lines: 1, chars: 13, textAreaFraction: 0.1, ocrText: '电话 13812345678' } });
    expect(text.evidence).toEqual({ matches: [{ kind: 'phone', text: '电话 138****5678', value: '138****5678' }], lines: 1, chars: 13, textAreaFraction: 0.1 });
    const qr = maskSignalForLog({ reason: 'qr_code', evidence: { format: 'QRCode', payload: 'https://u.wechat.com/abcdef', host: 'u.wechat.com' } });
    expect((qr.evidence as { payload: string }).payload).toBe('https://u.******.com/…');
    const blur = { reason: 'blurry', evidence: { sharpness: 3, threshold: 12 } };
    expect(maskSignalForLog(blur)).toEqual(blur);
  });
});
