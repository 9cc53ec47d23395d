/**
 * Masking of matched spans for logs: enough stays visible to tell what kind of thing matched,
 * not enough to contact anyone. Phone 13812345678 → 138****5678, e-mail lily2024@qq.com →
 * li***@q*.com, ids keep their first two characters.
 */
export function maskSpan(text: string, kind?: string): string {
  if (kind === 'email' || /@/.test(text)) {
    const [user = '', host = ''] = text.split('@');
    const dot = host.lastIndexOf('.');
    const name = dot > 0 ? host.slice(0, dot) : host;
    const tld = dot > 0 ? host.slice(dot) : '';
    return `${keep(user, 2)}@${keep(name, 1)}${tld}`;
  }
  const digits = text.replace(/\D/g, '');
  if (kind === 'phone' || (digits.length >= 11 && digits.length === text.replace(/[\s+\-.]/g, '').length)) {
    return digits.length >= 7 ? `${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}` : keep(digits, 1);
  }
  if (kind === 'url') {
    const m = /^([a-z][a-z0-9+.-]*:\/\/)?([^/?#]*)(.*)$/i.exec(text);
    const scheme = m?.[1] ?? '';
    const host = m?.[2] ?? text;
    const rest = m?.[3] ?? '';
    const parts = host.split('.');
    const tld = parts.length > 1 ? `.${parts[parts.length - 1]}` : '';
    return `${scheme}${keep(parts.slice(0, -1).join('.') || host, 2)}${tld}${rest === '' ? '' : '/…'}`;
  }
  return keep(text, 2);
}

/** The first `n` characters, the rest as '*' (at least three, so the length does not leak). */
function keep(s: string, n: number): string {
  const chars = [...s];
  if (chars.length <= n) return `${chars.join('')}***`;
  return `${chars.slice(0, n).join('')}${'*'.repeat(Math.max(3, chars.length - n))}`;
}

/** A match as it may appear in logs: the keyword stays, the contact detail is masked. */
export function maskMatch(m: { readonly kind: string; readonly text: string; readonly value: string }): string {
  const masked = maskSpan(m.value, m.kind);
  return m.text.includes(m.value) ? m.text.replace(m.value, masked) : masked;
}

/**
 * A signal as it may be logged: matched spans masked, QR payloads masked, full OCR text dropped.
 * Signals without such fields come back unchanged.
 */
export function maskSignalForLog<S extends { readonly reason: string; readonly evidence: unknown }>(signal: S): S {
  const e = signal.evidence;
  if (e === null || typeof e !== 'object') return signal;
  const { ocrText: _dropped, ...rest } = e as Record<string, unknown>;
  const out: Record<string, unknown> = rest;
  const matches = (e as { matches?: unknown }).matches;
  if (Array.isArray(matches)) {
    out.matches = matches.map((m: { kind: string; text: string; value: string }) => {
      const masked = maskSpan(m.value, m.kind);
      return { kind: m.kind, text: maskMatch(m), value: masked };
    });
  }
  const payload = (e as { payload?: unknown }).payload;
  if (typeof payload === 'string') out.payload = maskSpan(payload, /^[a-z][a-z0-9+.-]*:\/\//i.test(payload) ? 'url' : undefined);
  return { ...signal, evidence: out };
}
