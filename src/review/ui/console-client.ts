/// <reference lib="dom" />
// The review console in the browser: served as /assets/console.js. A plain script (no imports): it
// is compiled on its own, and all of it lives inside one function so that nothing leaks into the
// global scope of the page, or of the type checker.
(() => {
  type Lane = 'decide' | 'audit' | 'escalated';
  type Tab = Lane | 'decided';
  type Outcome = 'pass' | 'block';

  interface Reason { readonly code: string; readonly zh: string; readonly en: string }
  interface Boot {
    readonly user: { readonly id: string; readonly name: string; readonly roles: readonly string[] };
    readonly isLead: boolean;
    readonly csrf: string;
    readonly lang: string;
    readonly messages: Readonly<Record<string, Readonly<Record<string, string>>>>;
    readonly taxonomy: readonly Reason[];
    readonly claimBatch: number;
    readonly nowMs: number;
    /** "Reject and block similar" is on (known-image lists): the list rejected images go to. */
    readonly blockList?: string;
  }
  interface Summary {
    readonly id: string; readonly outcome: Outcome; readonly reasons: readonly string[]; readonly reviewer: { readonly id: string; readonly role: string };
    readonly decidedAt: string; readonly round: number; readonly kind: string; readonly note?: string; readonly jobId: string; readonly key: string;
  }
  interface HistoryEntry { readonly t: string; readonly at: number; readonly by?: string; readonly note?: string; readonly reason?: string; readonly outcome?: string }
  interface ItemView {
    readonly id: string; readonly token: string; expiresAtMs: number; readonly kind: string; readonly lane: string; readonly reversal: boolean;
    readonly enqueuedAtMs: number; readonly round: number; readonly outcome: Outcome | null; readonly bucket: string; readonly key: string;
    readonly verdict: Record<string, unknown>;
    readonly appeal?: { readonly reason: string; readonly appealedAt: string };
    readonly escalation?: { readonly by: string; readonly note: string; readonly at: string };
    readonly last?: Summary;
    readonly history: readonly HistoryEntry[];
    readonly earlier: readonly Summary[];
  }
  interface Counts { readonly lane: Lane; readonly pending: number; readonly oldestAgeMs: number | null }
  class ApiError extends Error {
    constructor(readonly code: string, message: string, readonly status: number) { super(message); }
  }

  const boot = JSON.parse(document.getElementById('boot')!.textContent ?? '{}') as Boot;
  const LANES: readonly Lane[] = boot.isLead ? ['decide', 'audit', 'escalated'] : ['decide', 'audit'];
  const TABS: readonly Tab[] = boot.isLead ? [...LANES, 'decided'] : LANES;

  const S = {
    lang: boot.lang,
    tab: 'decide' as Tab,
    view: 'grid' as 'grid' | 'single',
    items: [] as ItemView[],
    focus: 0,
    done: new Map<string, 'pass' | 'block' | 'skipped' | 'escalated' | 'expired'>(),
    revealed: new Set<string>(),
    notes: new Map<string, string>(),
    blurAll: true,
    grey: false,
    hoverReveal: true,
    armed: false,
    /** Armed by K: the next reason rejects and adds the image to the block list. */
    similar: false,
    help: false,
    escalating: false,
    busy: false,
    counts: [] as Counts[],
    skewMs: boot.nowMs - Date.now(),
    decided: [] as Array<{ id: string; key: string; last: Summary }>,
    decidedFocus: 0,
    decidedItems: new Map<string, ItemView>(),
    reversing: false,
    loaded: false,
  };

  const t = (key: string): string => boot.messages[S.lang]?.[key] ?? boot.messages['zh-CN']?.[key] ?? key;
  const now = (): number => Date.now() + S.skewMs;
  const reasonLabel = (code: string): string => {
    const r = boot.taxonomy.find((x) => x.code === code);
    return r ? (S.lang === 'en' ? r.en : r.zh) : code;
  };

  // ---- DOM helpers: text always goes in through textContent (verdicts, meta and OCR text are untrusted).
  type Child = Node | string | null | undefined | false;
  function h(tag: string, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      if (k === 'class') e.className = String(v);
      // Through the CSSOM: the CSP refuses style attributes.
      else if (k === 'style') e.style.cssText = String(v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }
  const kbd = (k: string): HTMLElement => h('kbd', {}, k);
  function duration(ms: number): string {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
    const hours = Math.floor(m / 60);
    return hours < 48 ? `${hours}h ${m % 60}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
  }
  const when = (iso: string | number): string => new Date(iso).toLocaleString(S.lang, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });

  // ---- API
  async function api<T>(path: string, body?: unknown): Promise<T> {
    const res = await fetch(path, {
      method: body === undefined ? 'GET' : 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': boot.csrf, accept: 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string }; nowMs?: number };
    if (typeof data.nowMs === 'number') S.skewMs = data.nowMs - Date.now();
    if (!res.ok) {
      if (res.status === 401) window.location.assign('/login');
      throw new ApiError(data.error?.code ?? 'INTERNAL', data.error?.message ?? res.statusText, res.status);
    }
    return data as T;
  }

  // ---- toast
  let toastTimer: number | undefined;
  function toast(text: string, tone: 'good' | 'bad' | '' = ''): void {
    document.querySelector('.toast')?.remove();
    const el = h('div', { class: `toast ${tone}`, role: 'status' }, text);
    document.body.append(el);
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(() => el.remove(), tone === 'bad' ? 6000 : 1800);
  }
  function failed(err: unknown): void {
    const e = err as ApiError;
    if (e.code === 'CLAIM_EXPIRED') toast(t('msg.expired'), 'bad');
    else if (e.code === 'CSRF_REJECTED') toast(t('msg.reloadCsrf'), 'bad');
    else toast(`${t('msg.error')}: ${e.message}`, 'bad');
  }

  // ---- images are kept across renders (re-creating them would fetch the bytes again)
  const images = new Map<string, HTMLImageElement>();
  function imageFor(item: ItemView, size: 'thumb' | 'full'): HTMLImageElement {
    const k = `${item.id}:${size}`;
    let img = images.get(k);
    if (!img) {
      img = new Image();
      img.alt = item.key;
      img.decoding = 'async';
      img.src = `/api/items/${encodeURIComponent(item.id)}/image?size=${size}`;
      images.set(k, img);
    }
    return img;
  }

  const noteBox = h('input', { class: 'note-box', id: 'note', autocomplete: 'off', maxlength: '500' }) as HTMLInputElement;
  noteBox.addEventListener('input', () => { const it = current(); if (it) S.notes.set(it.id, noteBox.value); });
  const escBox = h('input', { class: 'note-box', id: 'escalate-note', autocomplete: 'off', maxlength: '500' }) as HTMLInputElement;

  const current = (): ItemView | undefined => S.items[S.focus];
  const open = (it: ItemView): boolean => !S.done.has(it.id);

  // ---- loading
  async function loadCounts(): Promise<void> {
    try {
      S.counts = (await api<{ lanes: Counts[] }>('/api/counts')).lanes;
      renderTop();
    } catch { /* the next poll tries again */ }
  }

  async function claim(): Promise<void> {
    if (S.tab === 'decided') return loadDecided();
    const lane = S.tab;
    S.busy = true;
    try {
      const r = await api<{ items: ItemView[] }>('/api/claim', { lane, want: boot.claimBatch });
      if (S.tab !== lane) {
        // The reviewer moved on while this claim was in flight: give the items back.
        await release(r.items);
        return;
      }
      S.items = r.items;
      S.done.clear();
      S.revealed.clear();
      S.focus = 0;
      S.armed = false;
      S.reversing = false;
      for (const k of [...images.keys()]) if (!r.items.some((i) => k.startsWith(`${i.id}:`))) images.delete(k);
    } catch (err) {
      failed(err);
    } finally {
      S.busy = false;
      S.loaded = true;
    }
    render();
    void loadCounts();
  }

  async function loadDecided(): Promise<void> {
    try {
      S.decided = (await api<{ items: Array<{ id: string; key: string; last: Summary }> }>('/api/decided')).items;
      S.decidedFocus = Math.min(S.decidedFocus, Math.max(0, S.decided.length - 1));
      S.decidedItems.clear();
      void loadDecidedItem();
    } catch (err) {
      failed(err);
    }
    S.loaded = true;
    render();
  }

  /** The selected decision's item with its whole history, for the details panel. */
  async function loadDecidedItem(): Promise<void> {
    const row = S.decided[S.decidedFocus];
    if (!row || S.decidedItems.has(row.id)) return;
    try {
      S.decidedItems.set(row.id, (await api<{ item: ItemView }>(`/api/items/${encodeURIComponent(row.id)}`)).item);
      render();
    } catch { /* the row stays without details */ }
  }

  async function release(items: readonly ItemView[]): Promise<void> {
    await Promise.all(items.map((it) => api(`/api/items/${encodeURIComponent(it.id)}/release`, { token: it.token, skip: false }).catch(() => undefined)));
  }

  async function switchTab(tab: Tab): Promise<void> {
    if (tab === S.tab) return;
    // The tab changes at once, so that quick key presses step through the lanes one by one.
    const held = S.items.filter(open);
    S.tab = tab;
    S.items = [];
    S.loaded = false;
    render();
    await release(held);
    if (S.tab === tab) await claim();
  }

  // ---- activity keeps leases alive
  let lastExtend = Date.now();
  function activity(): void {
    if (Date.now() - lastExtend < 15_000 || S.items.every((i) => !open(i))) return;
    lastExtend = Date.now();
    api<{ claims: Array<{ id: string; expiresAtMs: number }> }>('/api/extend', {}).then((r) => {
      for (const c of r.claims) { const it = S.items.find((i) => i.id === c.id); if (it) it.expiresAtMs = c.expiresAtMs; }
    }, () => undefined);
  }

  // ---- decisions
  function nextOpen(from: number): number {
    for (let k = 1; k <= S.items.length; k++) {
      const i = (from + k) % S.items.length;
      if (S.items[i] && open(S.items[i]!)) return i;
    }
    return from;
  }
  function afterAction(it: ItemView, mark: 'pass' | 'block' | 'skipped' | 'escalated' | 'expired'): void {
    S.done.set(it.id, mark);
    S.armed = false;
    S.similar = false;
    if (S.reversing) {
      S.reversing = false;
      S.tab = 'decided';
      void loadDecided();
      return;
    }
    S.focus = nextOpen(S.focus);
    render();
    if (S.items.every((i) => !open(i))) window.setTimeout(() => void claim(), 450);
  }

  async function decide(outcome: Outcome, reasons: string[]): Promise<void> {
    const it = current();
    if (!it || !open(it) || S.busy) return;
    if (outcome === 'block' && reasons.length === 0) { toast(t('msg.reasonRequired'), 'bad'); return; }
    if (it.reversal && outcome === it.outcome) return;
    S.busy = true;
    try {
      const note = S.notes.get(it.id);
      const similar = S.similar && outcome === 'block' && boot.blockList !== undefined;
      const r = await api<{ repeated: boolean; blockSimilar?: { list: string } | { error: { code: string; message: string } } }>(
        `/api/items/${encodeURIComponent(it.id)}/decision`, { token: it.token, outcome, reasons, ...(note ? { note } : {}), ...(similar ? { blockSimilar: true } : {}) });
      if (r.blockSimilar && 'error' in r.blockSimilar) toast(`${t('msg.blockSimilarFailed')}: ${r.blockSimilar.error.message}`, 'bad');
      else toast(r.blockSimilar ? `${t('msg.blockedSimilar')} (${r.blockSimilar.list})` : r.repeated ? t('msg.repeated') : t('msg.saved'), 'good');
      afterAction(it, outcome);
    } catch (err) {
      failed(err);
      if ((err as ApiError).code === 'CLAIM_EXPIRED' || (err as ApiError).code === 'CLAIM_NOT_HELD') afterAction(it, 'expired');
    } finally {
      S.busy = false;
    }
  }

  /** K: the next reason rejects the image and lists it, so that its copies are blocked without a look. */
  function armSimilar(): void {
    if (boot.blockList === undefined) return;
    const on = !(S.armed && S.similar);
    S.armed = on;
    S.similar = on;
    render();
  }

  async function skip(): Promise<void> {
    const it = current();
    if (!it || !open(it) || S.busy) return;
    try {
      await api(`/api/items/${encodeURIComponent(it.id)}/release`, { token: it.token, skip: true });
      toast(t('msg.released'));
      afterAction(it, 'skipped');
    } catch (err) {
      failed(err);
    }
  }

  async function escalate(note: string): Promise<void> {
    const it = current();
    S.escalating = false;
    if (!it || !open(it)) return render();
    try {
      await api(`/api/items/${encodeURIComponent(it.id)}/escalate`, { token: it.token, note });
      toast(t('msg.escalated'), 'good');
      afterAction(it, 'escalated');
    } catch (err) {
      failed(err);
      render();
    }
  }

  async function reverseSelected(): Promise<void> {
    const row = S.decided[S.decidedFocus];
    if (!row) return;
    try {
      const r = await api<{ item: ItemView }>(`/api/items/${encodeURIComponent(row.id)}/reverse`, {});
      S.items = [r.item];
      S.done.clear();
      S.focus = 0;
      S.view = 'single';
      S.reversing = true;
      S.tab = 'decided';
      render();
    } catch (err) {
      failed(err);
    }
  }

  // ---- rendering
  const root = document.getElementById('app')!;

  function laneCount(lane: Lane): HTMLElement | null {
    const c = S.counts.find((x) => x.lane === lane);
    if (!c) return null;
    const old = c.oldestAgeMs !== null && c.oldestAgeMs > 3_600_000;
    return h('span', { class: `count${old ? ' old' : ''}`, title: c.oldestAgeMs !== null ? `${t('age')} ${duration(c.oldestAgeMs)}` : undefined }, String(c.pending));
  }

  function timerText(): { text: string; cls: string } {
    const held = S.items.filter(open);
    if (held.length === 0) return [...S.done.values()].includes('expired') ? { text: t('claim.expired'), cls: 'timer out' } : { text: '', cls: '' };
    const left = Math.min(...held.map((i) => i.expiresAtMs)) - now();
    if (left <= 0) return { text: t('claim.expired'), cls: 'timer out' };
    return { text: `${t('claim.left')} ${duration(left)}`, cls: left < 60_000 ? 'timer low' : 'timer' };
  }

  function toggle(label: string, key: string, on: boolean, action: () => void): HTMLElement {
    const b = h('button', { class: 'toggle', 'aria-pressed': String(on), type: 'button' }, label, kbd(key));
    b.addEventListener('click', () => { action(); render(); });
    return b;
  }

  function renderTop(): HTMLElement {
    const top = h('header', { class: 'top' },
      h('div', { class: 'brand' }, 'revmod', h('small', {}, t('app.title'))),
    );
    const tabs = h('nav', { class: 'tabs', role: 'tablist' });
    for (const tab of TABS) {
      const b = h('button', { class: 'tab', role: 'tab', 'aria-selected': String(S.tab === tab), type: 'button', 'data-tab': tab }, t(`lane.${tab}`), tab === 'decided' ? null : laneCount(tab));
      b.addEventListener('click', () => void switchTab(tab));
      tabs.append(b);
    }
    const tm = timerText();
    const lang = h('button', { class: 'toggle', type: 'button', id: 'lang' }, t('lang.switch'), kbd('L'));
    lang.addEventListener('click', switchLanguage);
    const logout = h('form', { method: 'post', action: '/logout' }, h('input', { type: 'hidden', name: '_csrf', value: boot.csrf }), h('button', { class: 'toggle', type: 'submit' }, t('action.logout')));
    top.append(tabs, h('div', { class: 'spacer' }),
      h('span', { class: tm.cls, id: 'timer' }, tm.text),
      h('div', { class: 'toggles' },
        toggle(S.view === 'grid' ? t('view.grid') : t('view.single'), 'V', true, () => { S.view = S.view === 'grid' ? 'single' : 'grid'; }),
        toggle(t('toggle.blur'), 'B', S.blurAll, () => { S.blurAll = !S.blurAll; S.revealed.clear(); }),
        toggle(t('toggle.grey'), 'G', S.grey, () => { S.grey = !S.grey; }),
        toggle(t('toggle.hover'), 'H', S.hoverReveal, () => { S.hoverReveal = !S.hoverReveal; }),
        lang),
      h('span', { class: 'who' }, `${boot.user.name} · ${boot.isLead ? 'lead' : 'reviewer'}`), logout);
    const old = root.querySelector('header.top');
    if (old) old.replaceWith(top);
    return top;
  }

  /** What is special about an item; none for a plain item of its lane. */
  function badge(it: ItemView, always = false): HTMLElement | null {
    const kind = it.reversal ? 'reversal' : it.appeal ? 'appeal' : it.escalation ? 'escalated' : it.kind;
    if (!always && (kind === 'decide' || kind === 'audit')) return null;
    return h('span', { class: `badge ${kind}` }, t(`kind.${kind}`));
  }

  function violateScore(v: Record<string, unknown>): number | null {
    const scores = v.scores as Record<string, number> | null | undefined;
    if (!scores) return null;
    if (typeof scores.violate === 'number') return scores.violate;
    const normal = typeof scores.normal === 'number' ? scores.normal : null;
    return normal === null ? null : 1 - normal;
  }

  function tile(it: ItemView, index: number): HTMLElement {
    const mark = S.done.get(it.id);
    const revealed = S.revealed.has(it.id) || !S.blurAll;
    const el = h('article', {
      class: `tile${index === S.focus ? ' focus' : ''}${mark ? ' done' : ''}${revealed ? ' revealed' : ''}`,
      'data-id': it.id, 'data-state': mark ?? 'open', 'aria-label': it.key,
    });
    const frame = h('div', { class: 'frame' }, imageFor(it, 'thumb'));
    if (!revealed) frame.append(h('span', { class: 'veil' }, kbd('Space'), ` ${t('action.unblur')}`));
    if (mark) frame.append(h('span', { class: `stamp ${mark === 'pass' || mark === 'block' ? mark : 'gone'}` }, mark === 'pass' ? t('action.approve') : mark === 'block' ? t('action.reject') : mark === 'skipped' ? t('action.skip') : mark === 'escalated' ? t('action.escalate') : t('claim.expired')));
    frame.append(h('span', { class: 'num' }, String(index + 1)));
    el.append(frame);
    const score = violateScore(it.verdict);
    el.append(h('div', { class: 'meter' }, score === null ? null : h('i', { style: `width:${Math.round(score * 100)}%` })));
    el.append(h('div', { class: 'tile-bar' }, badge(it), h('span', { class: 'key mono' }, it.key), h('span', {}, duration(now() - it.enqueuedAtMs))));
    el.addEventListener('click', () => { S.focus = index; S.armed = false; render(); });
    el.addEventListener('dblclick', () => { S.focus = index; S.view = 'single'; render(); });
    return el;
  }

  function section(title: string, ...body: Child[]): Node[] {
    return [h('h3', {}, title), ...(body.filter(Boolean) as Node[])];
  }

  function generic(value: unknown, depth = 0): Node {
    if (value === null || value === undefined) return document.createTextNode('—');
    if (typeof value !== 'object') return document.createTextNode(String(value));
    if (Array.isArray(value)) {
      if (value.every((v) => typeof v !== 'object' || v === null)) return document.createTextNode(value.map(String).join(', '));
      const ul = h('ul', { class: 'list' });
      for (const v of value.slice(0, 20)) ul.append(h('li', {}, generic(v, depth + 1)));
      return ul;
    }
    if (depth > 3) return document.createTextNode(JSON.stringify(value));
    const dl = h('dl', { class: 'kv' });
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) dl.append(h('dt', {}, k), h('dd', {}, generic(v, depth + 1)));
    return dl;
  }

  /** OCR text with the matched spans marked. Spans are character offsets [start, end). */
  function ocrText(ocr: Record<string, unknown>): HTMLElement | null {
    const text = typeof ocr.text === 'string' ? ocr.text : null;
    if (text === null) return null;
    const spans = (Array.isArray(ocr.matches) ? ocr.matches : [])
      .map((m) => m as { start?: unknown; end?: unknown; kind?: unknown })
      .filter((m) => typeof m.start === 'number' && typeof m.end === 'number' && (m.end as number) > (m.start as number))
      .map((m) => ({ start: Math.max(0, m.start as number), end: Math.min(text.length, m.end as number), kind: typeof m.kind === 'string' ? m.kind : '' }))
      .sort((a, b) => a.start - b.start);
    const box = h('div', { class: 'ocr' });
    let at = 0;
    for (const s of spans) {
      if (s.start < at) continue;
      box.append(text.slice(at, s.start), h('mark', { title: s.kind }, text.slice(s.start, s.end)));
      at = s.end;
    }
    box.append(text.slice(at));
    return box;
  }

  function evidence(ev: Record<string, unknown>): Node[] {
    const out: Node[] = [];
    for (const [name, value] of Object.entries(ev)) {
      if (value === null || value === undefined) continue;
      if (name === 'ocr' && typeof value === 'object') {
        const ocr = value as Record<string, unknown>;
        out.push(...section(t('section.ocr'), ocrText(ocr)));
        const { text: _t, matches, ...rest } = ocr;
        if (Array.isArray(matches) && matches.length > 0) out.push(h('div', { class: 'row' }, ...matches.slice(0, 12).map((m) => h('span', { class: 'chip warn' }, String((m as { kind?: unknown; text?: unknown }).kind ?? '?'), (m as { text?: unknown }).text ? ` · ${String((m as { text?: unknown }).text)}` : ''))));
        if (Object.keys(rest).length > 0) out.push(generic(rest));
        continue;
      }
      out.push(...section(name, generic(value)));
    }
    return out;
  }

  /** The item's details; `readOnly` for the decided list (no decision controls). */
  function details(it: ItemView | undefined, readOnly = false): HTMLElement {
    const side = h('aside', { class: 'side', 'aria-label': 'details' });
    if (!it) return side;
    const v = it.verdict;
    side.append(h('h2', { class: 'mono' }, it.key), h('div', { class: 'row' }, badge(it, true), h('span', {}, `${t('age')} ${duration(now() - it.enqueuedAtMs)}`), h('span', { class: 'mono' }, it.bucket)));
    if (it.appeal) side.append(...section(t('section.appeal'), h('div', { class: 'notice appeal' }, it.appeal.reason)));
    if (it.escalation) side.append(...section(t('section.escalation'), h('div', { class: 'notice esc' }, `${it.escalation.by}: ${it.escalation.note || '—'}`)));
    if (v.blind === true) {
      side.append(h('h3', {}, t('section.model')), h('div', { class: 'notice' }, t('blind.note')));
    } else {
      const decision = String(v.decision ?? '');
      side.append(...section(t('section.model'), h('div', { class: 'row' },
        h('span', { class: `chip${decision === 'block' ? ' warn' : ''}` }, t(`model.decision.${decision}`)),
        h('span', { class: 'mono' }, `${String((v.model as { name?: string } | undefined)?.name ?? '')} ${String((v.model as { version?: string } | undefined)?.version ?? '')}`))));
      const scores = v.scores as Record<string, number> | null | undefined;
      if (scores) {
        const bars = h('div', { class: 'bars' });
        for (const [cls, p] of Object.entries(scores).sort((a, b) => b[1] - a[1])) {
          bars.append(h('span', {}, cls), h('span', { class: `bar${cls !== 'normal' && p >= 0.5 ? ' hot' : ''}` }, h('i', { style: `width:${Math.round(p * 100)}%` })), h('span', { class: 'mono' }, p.toFixed(3)));
        }
        side.append(...section(t('section.scores'), bars));
      }
      const reasons = Array.isArray(v.reasons) ? (v.reasons as string[]) : [];
      const labels = Array.isArray(v.labels) ? (v.labels as unknown[]).map(String) : [];
      const why = [...new Set([...reasons, ...labels])];
      if (why.length > 0) side.append(...section(t('section.reasons'), h('div', { class: 'row' }, ...why.map((r) => h('span', { class: 'chip' }, r)))));
      if (v.error) side.append(generic(v.error));
      if (v.evidence && typeof v.evidence === 'object') {
        const ev = evidence(v.evidence as Record<string, unknown>);
        if (ev.length > 0) side.append(h('h3', {}, t('section.evidence')), ...ev);
      }
    }
    const meta = v.meta as Record<string, unknown> | undefined;
    if (meta && Object.keys(meta).length > 0) side.append(...section(t('section.meta'), generic(meta)));

    const box = h('div', { class: 'decide-box' }, h('h3', {}, t('section.decide')));
    const reasons = h('div', { class: 'reasons' });
    boot.taxonomy.slice(0, 9).forEach((r, i) => {
      const b = h('button', { class: `reason${S.armed ? ' armed' : ''}`, type: 'button', 'data-reason': r.code }, kbd(String(i + 1)), S.lang === 'en' ? r.en : r.zh);
      b.addEventListener('click', () => void decide('block', [r.code]));
      reasons.append(b);
    });
    const audit = it.kind === 'audit' || it.outcome === 'block';
    const approve = h('button', { class: 'act approve', type: 'button' }, kbd('A'), audit ? t('audit.approve') : t('action.approve'));
    approve.addEventListener('click', () => void decide('pass', []));
    const reject = h('button', { class: 'act reject', type: 'button' }, kbd('R'), audit ? t('audit.reject') : t('action.reject'));
    reject.addEventListener('click', () => { S.armed = !S.armed; S.similar = false; render(); });
    const rejectSimilar = h('button', { class: `act reject${S.similar ? ' armed' : ''}`, type: 'button', 'data-action': 'reject-similar' }, kbd('K'), t('action.rejectSimilar'));
    rejectSimilar.addEventListener('click', () => { armSimilar(); });
    const skipB = h('button', { class: 'act plain', type: 'button' }, kbd('S'), t('action.skip'));
    skipB.addEventListener('click', () => void skip());
    const escB = h('button', { class: 'act plain', type: 'button' }, kbd('E'), t('action.escalate'));
    escB.addEventListener('click', () => { S.escalating = true; render(); });
    noteBox.placeholder = t('note.placeholder');
    noteBox.value = S.notes.get(it.id) ?? '';
    const canEscalate = !it.reversal && it.lane !== 'escalated';
    box.append(h('div', { class: 'actions' }, it.reversal && it.outcome === 'pass' ? null : approve, it.reversal && it.outcome === 'block' ? null : reject,
      boot.blockList !== undefined && !(it.reversal && it.outcome === 'block') ? rejectSimilar : null, it.reversal ? null : skipB, canEscalate ? escB : null));
    if (S.armed) box.append(h('p', { class: 'row' }, S.similar ? t('reason.pickSimilar') : t('reason.pick')));
    box.append(reasons, h('div', { style: 'margin-top:8px' }, noteBox));

    if (it.earlier.length > 0) {
      const ul = h('ul', { class: 'list' });
      for (const d of it.earlier) ul.append(h('li', {}, h('b', {}, t(`decided.outcome.${d.outcome}`)), ` · ${d.reasons.map(reasonLabel).join(', ') || '—'} · ${d.reviewer.id} · ${when(d.decidedAt)}`));
      side.append(...section(t('section.earlier'), ul));
    }
    if (it.history.length > 0) {
      const ul = h('ul', { class: 'list' });
      for (const e of it.history.slice(-12)) ul.append(h('li', {}, h('b', {}, t(`history.${e.t}`)), ` ${e.by ?? ''} · ${when(e.at)}${e.outcome ? ` · ${e.outcome}` : ''}${e.note ? ` · ${e.note}` : ''}${e.reason ? ` · ${e.reason}` : ''}`));
      side.append(...section(t('section.history'), ul));
    }
    // The decision controls stay in view at the bottom while the evidence above scrolls.
    if (!readOnly) side.append(box);
    else if (it.last) side.append(...section(t('section.decide'), h('div', { class: 'row' }, h('b', {}, t(`decided.outcome.${it.last.outcome}`)), it.last.reasons.map(reasonLabel).join(', '), it.last.note ? `· ${it.last.note}` : '')));
    return side;
  }

  function work(): HTMLElement {
    const cls = `work${S.blurAll ? ' blurred' : ''}${S.grey ? ' grey' : ''}${S.hoverReveal ? ' hover-reveal' : ''}${S.view === 'single' ? ' single' : ''}`;
    const main = h('section', { class: cls, 'data-view': S.view });
    if (S.tab === 'decided' && !S.reversing) {
      if (S.decided.length === 0) return h('section', { class: 'work' }, h('div', { class: 'empty' }, h('b', {}, t('decided.empty'))));
      const table = h('table', { class: 'decided' }, h('thead', {}, h('tr', {}, h('th', {}, t('decided.at')), h('th', {}, 'key'), h('th', {}, t('section.decide')), h('th', {}, t('decided.by')), h('th', {}, t('decided.round')))));
      const body = h('tbody');
      S.decided.forEach((row, i) => {
        const tr = h('tr', { class: i === S.decidedFocus ? 'focus' : '', 'data-id': row.id },
          h('td', {}, when(row.last.decidedAt)), h('td', { class: 'mono' }, row.key),
          h('td', {}, `${t(`decided.outcome.${row.last.outcome}`)}${row.last.reasons.length ? ` · ${row.last.reasons.map(reasonLabel).join(', ')}` : ''}`),
          h('td', {}, row.last.reviewer.id), h('td', {}, String(row.last.round)));
        tr.addEventListener('click', () => { S.decidedFocus = i; void loadDecidedItem(); render(); });
        body.append(tr);
      });
      table.append(body);
      main.append(table, h('p', { class: 'row' }, kbd('X'), t('help.reverse')));
      return main;
    }
    if (S.items.length === 0) {
      main.append(h('div', { class: 'empty' }, h('b', {}, S.loaded ? t('empty.title') : '…'), S.loaded ? h('span', {}, kbd('C'), ' ', t('empty.hint')) : null));
      return main;
    }
    if (S.view === 'grid') {
      const grid = h('div', { class: 'grid', role: 'grid' });
      S.items.forEach((it, i) => grid.append(tile(it, i)));
      main.append(grid);
    } else {
      const it = current()!;
      const el = tile(it, S.focus);
      el.querySelector('.frame')!.replaceChildren(...[imageFor(it, 'full'), ...[...el.querySelector('.frame')!.childNodes].slice(1)]);
      main.append(el);
    }
    return main;
  }

  function keysBar(): HTMLElement {
    const k = (key: string, label: string) => h('span', {}, kbd(key), label);
    if (S.tab === 'decided' && !S.reversing) {
      return h('footer', { class: 'keys' }, k('↑ ↓', t('help.move')), k('X', t('help.reverse')), k('T', t('help.lane')), k('L', t('help.lang')), k('?', t('help.help')));
    }
    return h('footer', { class: 'keys' },
      k('A', t('help.approve')), k('1–9', t('help.rejectN')), k('R', t('help.reject')), ...(boot.blockList !== undefined ? [k('K', t('help.rejectSimilar'))] : []), k('S', t('help.skip')), k('E', t('help.escalate')),
      k('Space', t('help.unblur')), k('← →', t('help.move')), k('N', t('help.note')), k('T', t('help.lane')), k('?', t('help.help')));
  }

  function overlays(): HTMLElement[] {
    const out: HTMLElement[] = [];
    if (S.escalating) {
      escBox.placeholder = t('escalate.placeholder');
      out.push(h('div', { class: 'overlay' }, h('div', { class: 'dialog', role: 'dialog' }, h('h2', {}, t('action.escalate')), escBox)));
    }
    if (S.help) {
      const grid = h('div', { class: 'help' });
      const rows: Array<[string, string]> = [['A', 'help.approve'], ['1–9', 'help.rejectN'], ['R', 'help.reject'], ...(boot.blockList !== undefined ? [['K', 'help.rejectSimilar'] as [string, string]] : []), ['S', 'help.skip'], ['E', 'help.escalate'],
        ['Space / U', 'help.unblur'], ['B', 'help.blurAll'], ['G', 'help.grey'], ['V', 'help.view'], ['T', 'help.lane'], ['← → ↑ ↓', 'help.move'],
        ['N', 'help.note'], ['C', 'help.claim'], ['L', 'help.lang'], ['X', 'help.reverse'], ['?', 'help.help']];
      for (const [key, label] of rows) grid.append(kbd(key), h('span', {}, t(label)));
      out.push(h('div', { class: 'overlay' }, h('div', { class: 'dialog', role: 'dialog' }, h('h2', {}, t('help.title')), grid)));
    }
    return out;
  }

  function render(): void {
    document.documentElement.lang = S.lang;
    document.title = `${t('app.title')} · revmod`;
    const hadNoteFocus = document.activeElement === noteBox;
    const top = renderTop();
    const listing = S.tab === 'decided' && !S.reversing;
    const row = S.decided[S.decidedFocus];
    const shown = listing ? (row ? S.decidedItems.get(row.id) : undefined) : current();
    root.replaceChildren(top, h('div', { class: 'main' }, work(), details(shown, listing)), keysBar(), ...overlays());
    // Focused in the same task as the key that opened it, and again after every re-render (which
    // detaches it): keys typed straight after E land in the note, never on the grid's shortcuts.
    if (S.escalating) escBox.focus();
    else if (hadNoteFocus) noteBox.focus();
  }

  function tick(): void {
    const el = document.getElementById('timer');
    if (el) { const tm = timerText(); el.textContent = tm.text; el.className = tm.cls; }
    let changed = false;
    for (const it of S.items) if (open(it) && it.expiresAtMs <= now()) { S.done.set(it.id, 'expired'); changed = true; }
    if (changed) { toast(t('msg.expired'), 'bad'); render(); void loadCounts(); }
  }

  function switchLanguage(): void {
    S.lang = S.lang === 'zh-CN' ? 'en' : 'zh-CN';
    document.cookie = `revmod_lang=${encodeURIComponent(S.lang)}; path=/; max-age=31536000; samesite=lax`;
    render();
  }

  function move(delta: number): void {
    if (S.tab === 'decided' && !S.reversing) {
      S.decidedFocus = Math.max(0, Math.min(S.decided.length - 1, S.decidedFocus + Math.sign(delta)));
      void loadDecidedItem();
    } else if (S.items.length > 0) {
      S.focus = (S.focus + delta + S.items.length) % S.items.length;
      S.armed = false;
    }
    render();
  }

  document.addEventListener('keydown', (ev) => {
    activity();
    if (ev.target === escBox) {
      if (ev.key === 'Enter') { ev.preventDefault(); const note = escBox.value; escBox.value = ''; void escalate(note); }
      if (ev.key === 'Escape') { S.escalating = false; render(); }
      return;
    }
    if (ev.target === noteBox) {
      if (ev.key === 'Enter' || ev.key === 'Escape') { ev.preventDefault(); noteBox.blur(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key;
    if (S.help) { if (key === '?' || key === 'Escape') { S.help = false; render(); } return; }
    const cols = S.view === 'grid' ? 4 : 1;
    const handled = ((): boolean => {
      switch (key) {
        case 'ArrowRight': move(1); return true;
        case 'ArrowLeft': move(-1); return true;
        case 'ArrowDown': move(S.tab === 'decided' && !S.reversing ? 1 : cols); return true;
        case 'ArrowUp': move(S.tab === 'decided' && !S.reversing ? -1 : -cols); return true;
        case 'a': case 'A': void decide('pass', []); return true;
        case 'r': case 'R': S.armed = !S.armed; S.similar = false; render(); return true;
        case 'k': case 'K': armSimilar(); return true;
        case 's': case 'S': void skip(); return true;
        case 'e': case 'E': { const it = current(); if (it && open(it) && !it.reversal && it.lane !== 'escalated') { S.escalating = true; render(); } return true; }
        case ' ': case 'u': case 'U': { const it = current(); if (it) { if (S.revealed.has(it.id)) S.revealed.delete(it.id); else S.revealed.add(it.id); render(); } return true; }
        case 'b': case 'B': S.blurAll = !S.blurAll; S.revealed.clear(); render(); return true;
        case 'g': case 'G': S.grey = !S.grey; render(); return true;
        case 'h': case 'H': S.hoverReveal = !S.hoverReveal; render(); return true;
        case 'v': case 'V': S.view = S.view === 'grid' ? 'single' : 'grid'; render(); return true;
        case 't': case 'T': void switchTab(TABS[(TABS.indexOf(S.tab) + 1) % TABS.length]!); return true;
        case 'n': case 'N': if (current()) { render(); noteBox.focus(); } return true;
        case 'c': case 'C': void claim(); return true;
        case 'l': case 'L': switchLanguage(); return true;
        case 'x': case 'X': if (S.tab === 'decided' && !S.reversing) void reverseSelected(); return true;
        case '?': S.help = true; render(); return true;
        case 'Escape': S.armed = false; S.similar = false; render(); return true;
        default:
          if (/^[1-9]$/.test(key)) {
            const reason = boot.taxonomy[Number(key) - 1];
            if (reason) void decide('block', [reason.code]);
            return true;
          }
          return false;
      }
    })();
    if (handled) ev.preventDefault();
  });
  for (const type of ['mousemove', 'click', 'wheel']) document.addEventListener(type, activity, { passive: true });

  render();
  void claim();
  window.setInterval(tick, 1000);
  window.setInterval(() => void loadCounts(), 20_000);
})();
