// Detectors: pure async functions over decoded views, each with its view, cost class and defaults.
export type { PixelView, ViewSpec, ViewInput, CostClass, SignalReason, DetectorSignal, DetectorDescriptor, DetectorGate, GateResult } from './types';
export { decodeView, decodeViews, toGrey } from './views';
export { blurDetector, measureSharpness, DEFAULT_BLUR_OPTIONS, type BlurOptions, type BlurEvidence } from './blur';
export { qrDetector, createQrDetector, loadZxing, urlParts, DEFAULT_QR_OPTIONS, type QrDetector, type QrOptions, type QrEvidence, type RelativePoint } from './qr';
export { textGate, textGateScore, DEFAULT_TEXT_GATE_OPTIONS, type TextGateOptions } from './text/text-gate';
export {
  createTextDetector, textSignals, DEFAULT_TEXT_DETECTOR_OPTIONS,
  type TextDetector, type TextDetectorOptions, type TextEvidence, type MatchEvidence, type OcrRunner,
} from './text/text-detector';
export { OcrPool, DEFAULT_OCR_POOL_OPTIONS, type OcrPoolOptions, type OcrPoolStats } from './text/ocr-pool';
export type { OcrTaskResult } from './text/ocr-protocol';
export { PaddleOcr, DEFAULT_OCR_ENGINE_OPTIONS, type OcrEngineOptions, type OcrLine, type OcrResult } from './text/paddle-ocr';
export { findContacts, findPhones, type ContactKind, type TextMatch } from './text/contact-rules';
export { BannedWords, DEFAULT_BANNED_WORDS } from './text/banned-words';
export { maskSpan, maskMatch, maskSignalForLog } from './text/mask';
export { normaliseText, compactText } from './text/normalise';
