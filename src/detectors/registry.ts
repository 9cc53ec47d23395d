import { blurDetector } from './blur';
import type { Detector, Signal } from './detector';
import { qrDetector } from './qr';
import type { DetectorDescriptor, PixelView } from './types';

/** A grey-view descriptor as the pool runs it: its view size as needs, its findings as signals. */
function onGreyView<O extends object>(d: DetectorDescriptor<O, { readonly kind: 'grey'; readonly maxSidePx: number }>): Detector {
  return Object.freeze({
    name: d.name,
    cost: 'cheap' as const,
    needs: () => ({ greyMaxSide: d.view.maxSidePx, rgbMaxSide: 0 }),
    async detect(views: { readonly grey?: PixelView | undefined }, options: Readonly<Record<string, unknown>>): Promise<Signal[]> {
      if (!views.grey) return [];
      const found = await d.detect(views.grey, options as Partial<O>);
      return found.map((s) => ({ detector: d.name, reason: s.reason, evidence: s.evidence as Readonly<Record<string, unknown>> }));
    },
  });
}

/** The cheap detectors the image pool can run, by name. */
export const CHEAP_DETECTORS: Readonly<Record<string, Detector>> = Object.freeze({
  blur: onGreyView(blurDetector),
  qr: onGreyView(qrDetector),
});
