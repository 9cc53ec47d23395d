import type { Detector } from './detector';

/** The cheap detectors the image pool can run, by name. */
export const CHEAP_DETECTORS: Readonly<Record<string, Detector>> = {};
