import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Verdict } from '@revmod/client';
import { parseSince } from '../../src/cli/commands/review-data-commands';
import { boardAllows, matchRoute } from '../../src/ops/board-policy';
import { isQcSample } from '../../src/review/sampling';
import { asBrowserScript, consoleScript } from '../../src/review/ui/console-assets';
import { DEFAULT_TAXONOMY, loadTaxonomy } from '../../src/review/taxonomy';
import { contentSha256, modelLean, verdictForLog, verdictForReviewer } from '../../src/review/verdict-view';
import { makeVerdict } from '../helpers/review-fixtures';

describe('QC sampling of auto-passed verdicts', () => {
  const passes = Array.from({ length: 4_000 }, (_, i) => makeVerdict({ key: `s/${i}.jpg`, decision: 'pass' }));

  it('samples about the configured fraction, the same verdicts every time', () => {
    const picked = passes.filter((v) => isQcSample(v, 0.05));
    expect(picked.length / passes.length).toBeGreaterThan(0.04);
    expect(picked.length / passes.length).toBeLessThan(0.06);
    expect(passes.filter((v) => isQcSample(v, 0.05)).map((v) => v.id)).toEqual(picked.map((v) => v.id));
  });

  it('never samples review, block or error verdicts, nor at rate 0', () => {
    expect(passes.some((v) => isQcSample(v, 0))).toBe(false);
    expect(isQcSample(makeVerdict({ key: 'r.jpg', decision: 'review' }), 1)).toBe(false);
    expect(isQcSample(makeVerdict({ key: 'b.jpg', decision: 'block' }), 1)).toBe(false);
    expect(isQcSample({ ...passes[0]!, error: { code: 'INTERNAL', message: 'x' } }, 1)).toBe(false);
    expect(isQcSample(passes[0]!, 1)).toBe(true);
  });
});

describe('verdicts of either schema', () => {
  const v2 = makeVerdict({ key: 'x.jpg', decision: 'review', bytes: Buffer.from('abc'), extra: { evidence: { ocr: { text: '加微信 abc123', matches: [{ kind: 'wechat', start: 1, end: 10 }] }, qr: [{ payload: 'x' }] } } });

  it('reads the content sha256 when present, and null for a version-1 verdict', () => {
    expect(contentSha256(v2)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentSha256(makeVerdict({ key: 'y.jpg', decision: 'review' }))).toBeNull();
  });

  it('drops OCR text from the log unless asked to keep it, keeping the matches', () => {
    const logged = verdictForLog(v2, false) as unknown as { evidence: { ocr: Record<string, unknown>; qr: unknown } };
    expect(logged.evidence.ocr).toEqual({ matches: [{ kind: 'wechat', start: 1, end: 10 }], textDropped: true });
    expect(logged.evidence.qr).toEqual([{ payload: 'x' }]);
    expect(verdictForLog(v2, true)).toBe(v2);
  });

  it('hides the model from blind samples', () => {
    const blind = verdictForReviewer(makeVerdict({ key: 'p.jpg', decision: 'pass' }), true);
    expect(Object.keys(blind).sort()).toEqual(['blind', 'bucket', 'decidedAt', 'key', 'meta']);
    expect(verdictForReviewer(v2, false)).toMatchObject({ decision: 'review', evidence: expect.any(Object), scores: expect.any(Object) });
  });

  it("reads the model's lean: blocks and suspected violations lean block, low confidence and errors none", () => {
    expect(modelLean(makeVerdict({ key: 'a', decision: 'block' }))).toBe('block');
    expect(modelLean(makeVerdict({ key: 'a', decision: 'pass' }))).toBe('pass');
    expect(modelLean(makeVerdict({ key: 'a', decision: 'review' }))).toBe('block');
    expect(modelLean({ ...makeVerdict({ key: 'a', decision: 'review' }), reasons: ['low_confidence'], label: 'normal' } as Verdict)).toBeNull();
  });
});

describe('review taxonomy', () => {
  it('has at most nine built-in reasons (number keys) and reads a file, naming problems', () => {
    expect(DEFAULT_TAXONOMY.length).toBeLessThanOrEqual(9);
    const dir = mkdtempSync(join(tmpdir(), 'revmod-tax-'));
    try {
      const file = join(dir, 't.json');
      writeFileSync(file, JSON.stringify([{ code: 'fake_goods', zh: '假货', en: 'Counterfeit', category: 'fake' }]));
      expect(loadTaxonomy(file).map((r) => r.code)).toEqual(['fake_goods']);
      writeFileSync(file, JSON.stringify([{ code: 'Bad Code', zh: 'x', en: 'x', category: 'x' }]));
      expect(() => loadTaxonomy(file)).toThrow(/REVMOD_REVIEW_TAXONOMY_FILE .*0.code: lower-case letters/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboard route policy', () => {
  const admin = { id: 'a', name: 'a', roles: ['admin'] as const, via: 'password' as const };
  const viewer = { ...admin, roles: ['viewer'] as const };
  it('matches express-style routes and decodes parameters', () => {
    expect(matchRoute('/api/queues/:queueName/:jobId/retry', '/api/queues/moderation/j%201/retry')).toEqual({ queueName: 'moderation', jobId: 'j 1' });
    expect(matchRoute('/api/queues/:queueName/pause', '/api/queues/moderation/pause/x')).toBeUndefined();
  });
  it('lets reads through, admins retry the moderation queue only, and nobody add jobs', () => {
    expect(boardAllows(viewer, 'GET', '/api/queues', 'moderation')).toBe(true);
    expect(boardAllows(viewer, 'PUT', '/api/queues/moderation/pause', 'moderation')).toBe(false);
    expect(boardAllows(admin, 'PUT', '/api/queues/moderation/pause', 'moderation')).toBe(true);
    expect(boardAllows(admin, 'PUT', '/api/queues/moderation-results/pause', 'moderation')).toBe(false);
    expect(boardAllows(admin, 'POST', '/api/queues/moderation/add', 'moderation')).toBe(false);
    expect(boardAllows(undefined, 'PUT', '/api/queues/moderation/pause', 'moderation')).toBe(false);
  });
});

describe('--since', () => {
  it('takes ISO dates and ages, and names itself when wrong', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(parseSince('24h', '--since', now)).toBe(Date.parse('2026-11-30T12:00:00Z'));
    expect(parseSince('7d', '--since', now)).toBe(Date.parse('2026-11-24T12:00:00Z'));
    expect(parseSince('2026-11-01', '--since', now)).toBe(Date.parse('2026-11-01'));
    expect(() => parseSince('last week')).toThrow(/--since must be an ISO date .*received "last week"/);
  });
});

describe('the browser script', () => {
  it('is served without the CommonJS marker tsc adds, and refuses one that needs a module system', () => {
    const script = consoleScript();
    expect(script).toContain("document.getElementById('boot')");
    expect(asBrowserScript('"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n(() => {})();\n')).toBe('"use strict";\n(() => {})();\n');
    expect(() => asBrowserScript('"use strict";\nexports.x = 1;\n')).toThrow(/must stay a plain script/);
  });
});
