import { performance as nodePerformance } from 'node:perf_hooks';
import { OcrPool } from '../../src/detectors/text/ocr-pool';
import { createTextDetector } from '../../src/detectors/text/text-detector';
import type { PixelView } from '../../src/detectors/types';
import { decodeView } from '../../src/detectors/views';
import { isRevmodError } from '@revmod/client';
import { fixturePhoto, withText } from '../helpers/detector-images';

const eventLoopUtilization = nodePerformance.eventLoopUtilization.bind(nodePerformance);

const rgb = async (bytes: Buffer): Promise<PixelView> => decodeView(bytes, { kind: 'rgb', maxSidePx: 1024 });
const compact = (s: string): string => s.replace(/\s/g, '');

describe('OCR pool (PaddleOCR on onnxruntime-node, in worker threads)', () => {
  let pool: OcrPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('reads Chinese and English contact text off a real photo', async () => {
    pool = new OcrPool({ threads: 1 });
    const view = await rgb(await withText(fixturePhoto('coffee_600x400_q85.jpg'), ['加微信 abc_12345', 'Tel: 138 1234 5678'], 30));
    const result = await pool.recognise(view);
    expect(result.lines.map((l) => compact(l.text))).toEqual(['加微信abc_12345', 'Tel:13812345678']);
    for (const l of result.lines) {
      expect(l.confidence).toBeGreaterThan(0.8);
      for (const p of l.box) {
        expect(p.x).toBeGreaterThanOrEqual(0);
        expect(p.x).toBeLessThanOrEqual(1);
      }
    }
    const signals = await createTextDetector(pool).detect(view);
    expect(signals.map((s) => s.reason)).toEqual(['contact_info']);
    expect(signals[0]!.evidence.matches!.map((m) => m.kind).sort()).toEqual(['phone', 'wechat']);
  });

  it('queues a burst, completes it, never runs more than its size at once, and keeps the main thread free', async () => {
    pool = new OcrPool({ threads: 2, maxQueued: 16 });
    const photos = ['coffee_600x400_q85.jpg', 'chelsea_451x300_q85.jpg', 'astronaut_512x512_q85.jpg'];
    const views = await Promise.all(Array.from({ length: 6 }, (_, i) => withText(fixturePhoto(photos[i % 3]!), [`QQ ${12345670 + i}`], 28).then(rgb)));
    // The main thread's event-loop utilisation over the burst: near 1 if OCR ran on this thread.
    // (Utilisation, not lag: lag also grows when other processes hold the cores.)
    const elu0 = eventLoopUtilization();
    const pending = views.map((v) => pool!.recognise(v));
    const queuedRightAway = pool.stats.queued;
    const results = await Promise.all(pending);
    const elu = eventLoopUtilization(elu0);
    expect(queuedRightAway).toBeGreaterThanOrEqual(4);
    expect(results.map((r, i) => compact(r.lines.map((l) => l.text).join('')))).toEqual(views.map((_, i) => `QQ${12345670 + i}`));
    expect(new Set(results.map((r) => r.thread)).size).toBeLessThanOrEqual(2);
    expect(pool.stats.threads).toBe(2);
    // Size bound: at no instant were more than two reads running.
    const edges = results.flatMap((r) => [{ t: r.startedAtMs, d: 1 }, { t: r.endedAtMs, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (running += e.d));
    expect(peak).toBeLessThanOrEqual(2);
    expect(Math.max(...results.map((r) => r.queuedMs))).toBeGreaterThan(0);
    expect(elu.utilization).toBeLessThan(0.5);
  });

  it('refuses work beyond its queue bound with OCR_OVERLOADED, and after close with SHUTTING_DOWN; close is idempotent', async () => {
    pool = new OcrPool({ threads: 1, maxQueued: 1 });
    const view = await rgb(await withText(fixturePhoto('coffee_600x400_q85.jpg'), ['QQ 12345678'], 28));
    const runs = [pool.recognise(view), pool.recognise(view), pool.recognise(view)].map((p) => p.then(() => 'ok', (e: unknown) => (isRevmodError(e) ? e.code : String(e))));
    const outcomes = await Promise.all(runs);
    expect(outcomes).toContain('OCR_OVERLOADED');
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(1);
    await Promise.all([pool.close(), pool.close()]);
    await pool.close();
    await expect(pool.recognise(view)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('validates its options and the engine options it is given, naming the option and the value', async () => {
    expect(() => new OcrPool({ threads: 0 })).toThrow(/detectors\.ocrPool\.threads must be an integer .*\(got 0\)/);
    pool = new OcrPool({ threads: 1 });
    const view = await rgb(fixturePhoto('coffee_600x400_q85.jpg'));
    await expect(pool.recognise(view, { detThreshold: 2 })).rejects.toThrow('detectors.ocr.detThreshold must be a number in [0, 1] (got 2)');
  });
});
