/**
 * Piscina task handler of the OCR pool: one PaddleOCR instance (two ONNX sessions) per thread,
 * loaded at the thread's first task and kept for its life (sessions are costly to make, and
 * making and dropping them leaks).
 */
import { threadId } from 'node:worker_threads';
import { PaddleOcr } from './paddle-ocr';
import type { OcrTask, OcrTaskResult } from './ocr-protocol';

let engine: Promise<PaddleOcr> | undefined;

export default async function runOcrTask(task: OcrTask): Promise<OcrTaskResult> {
  const startedAtMs = Date.now();
  // A failed load is not kept: the next task tries again.
  engine ??= PaddleOcr.load(task.intraOpThreads).catch((err: unknown) => {
    engine = undefined;
    throw err;
  });
  const ocr = await engine;
  const result = await ocr.recognise(task.view, task.options);
  const endedAtMs = Date.now();
  return { ...result, thread: threadId, queuedMs: startedAtMs - task.submittedAtMs, runMs: endedAtMs - startedAtMs, startedAtMs, endedAtMs };
}
