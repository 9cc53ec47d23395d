/**
 * The performance goals' part of the report: the decode floor beside revmod's CPU outside
 * inference, fp32 and int8 against the reference turn by turn, the GPU stand-in feed rate, and a
 * table of the goals (met / not met, with the measured reason).
 */
import type { FloorResult } from './decode-floor';
import type { BurstResult } from './end-to-end';
import type { FeedRun } from './feed-rate';
import type { SizeClass } from './images';
import type { Int8Report } from './int8';
import { median } from './measure';
import { referenceBest } from './report';
import type { LoadResult, LoadRun } from './reference';
import type { InferenceResult, PreprocessResult } from './stages';

export interface PerfResults {
  readonly cores: number;
  /** 1-minute load averages at the start and the end of the run: the machine is shared. */
  readonly loadAverage: readonly [number, number];
  readonly floor: readonly FloorResult[];
  /** Per size class bursts (fp32 model): CPU outside inference. */
  readonly byClass: readonly BurstResult[];
  readonly turns: ReadonlyArray<{ readonly fp32: BurstResult; readonly int8: BurstResult | undefined; readonly reference: LoadResult | undefined }>;
  readonly inferenceFp32: InferenceResult | undefined;
  readonly inferenceInt8: InferenceResult | undefined;
  readonly mix: PreprocessResult;
  readonly lowLoad: BurstResult | undefined;
  readonly referenceLowLoad: readonly LoadRun[];
  readonly feed: readonly FeedRun[];
  readonly int8Check: Int8Report | undefined;
  readonly parityWorstMax: number | undefined;
  readonly soak: { readonly growthPct: number; readonly date: string } | undefined;
}

const f = (x: number | undefined, d = 1): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '–');
const verdict = (met: boolean | undefined): string => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');
const row = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
const table = (head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>) => [row(head), row(head.map(() => '---')), ...rows.map(row)];

/** The floor of the decode path the 'torchvision' mode takes for a class: shrink-on-load for 12 MP, a full decode for the mid sizes. */
export function applicableFloor(floor: readonly FloorResult[], c: SizeClass): FloorResult | undefined {
  const path = c === '12 MP' ? 'shrink-on-load + linear 256' : 'full decode';
  return floor.find((x) => x.sizeClass === c && x.path === path);
}

export function renderPerf(r: PerfResults): string {
  const out: string[] = ['### Performance goals (issues #9 and #16)', '',
    `The machine is shared with other sessions: the 1-minute load average was ${f(r.loadAverage[0])} at the start of this run and ${f(r.loadAverage[1])} at its end, on ${r.cores} cores. Absolute figures are therefore low and noisy; compare the ratios within this run (each turn runs its parts back to back).`, ''];
  // Floor.
  const classes = [...new Set(r.floor.map((x) => x.sizeClass))];
  out.push('Decode floor: sharp alone, `sharp.concurrency(1)`, one image at a time, process CPU per image over ≥ 2 s per class and path, beside revmod\'s CPU outside inference end to end (fp32 model, same run).', '');
  const ratios = new Map<SizeClass, number>();
  out.push(...table(['Size class', 'shrink-on-load + linear 256, CPU ms', 'full decode, CPU ms', 'revmod outside inference, CPU ms', 'floor of the path used', 'ratio (goal ≤ 1.5×)'], classes.map((c) => {
    const s = r.floor.find((x) => x.sizeClass === c && x.path === 'shrink-on-load + linear 256');
    const d = r.floor.find((x) => x.sizeClass === c && x.path === 'full decode');
    const b = r.byClass.find((x) => x.label === c);
    const a = applicableFloor(r.floor, c);
    const ratio = b && a ? b.outsideCpuMsPerImage / a.cpuMsPerImage : Number.NaN;
    if (Number.isFinite(ratio)) ratios.set(c, ratio);
    return [c, f(s?.cpuMsPerImage), f(d?.cpuMsPerImage), f(b?.outsideCpuMsPerImage), a ? a.path : '–', `**${f(ratio, 2)}×**`];
  })), '');

  // fp32 and int8 against the reference.
  const turnRows = r.turns.map((t, i) => {
    const best = t.reference ? referenceBest(t.reference.runs) : undefined;
    return { i: i + 1, t, best };
  });
  out.push('fp32 and int8 CPU workers against the reference server, turn by turn (each turn: an fp32 burst, an int8 burst, then load.py with 1 and 4 clients).', '');
  out.push(...table(['Turn', 'fp32 img/s', 'int8 img/s', 'reference best img/s (clients)', 'fp32 / reference', 'int8 / reference', 'cores elsewhere fp32 / int8'], turnRows.map(({ i, t, best }) => [
    i, f(t.fp32.imagesPerS), f(t.int8?.imagesPerS), best ? `${f(best.imagesPerS)} (c=${best.concurrency})` : '–',
    best ? `${f(t.fp32.imagesPerS / best.imagesPerS, 2)}×` : '–', best && t.int8 ? `**${f(t.int8.imagesPerS / best.imagesPerS, 2)}×**` : '–',
    `${f(t.fp32.coresElsewhere, 2)} / ${f(t.int8?.coresElsewhere, 2)}`,
  ])), '');
  const int8Ratios = turnRows.filter((x) => x.best && x.t.int8).map((x) => x.t.int8!.imagesPerS / x.best!.imagesPerS);
  const int8Median = int8Ratios.length > 0 ? median(int8Ratios) : undefined;
  const int8Bursts = r.turns.map((t) => t.int8).filter((x): x is BurstResult => x !== undefined);
  const int8Rate = int8Bursts.length > 0 ? median(int8Bursts.map((b) => b.imagesPerS)) : undefined;
  const int8Machine = r.inferenceInt8 ? (r.cores * 1000) / (r.inferenceInt8.cpuMsPerImage + r.mix.cpuMsPerImage) : undefined;
  const fp32Bound = r.inferenceFp32 ? (r.cores * 1000) / (r.inferenceFp32.cpuMsPerImage + r.mix.cpuMsPerImage) : undefined;
  // As for fp32 above: on a shared machine the bound scales with the cores that work other than the
  // S3 server and Redis left free during the bursts.
  const unrelated = int8Bursts.length > 0
    ? median(int8Bursts.map((e) => Math.min(r.cores - 0.1, Math.max(0, e.coresElsewhere - ((e.s3CpuMsPerImage + e.redisCpuMsPerImage) * e.imagesPerS) / 1000))))
    : 0;
  const int8Bound = int8Machine !== undefined ? (int8Machine * (r.cores - unrelated)) / r.cores : undefined;
  out.push(`Stage bound (${r.cores} cores, each image paying inference CPU alone at batch 32 plus preprocessing CPU alone on the mix, ${f(r.mix.cpuMsPerImage)} ms): fp32 ${f(r.inferenceFp32?.cpuMsPerImage)} ms → **${f(fp32Bound)} img/s**; int8 ${f(r.inferenceInt8?.cpuMsPerImage)} ms → **${f(int8Machine)} img/s** on the whole machine, ${f(int8Bound)} img/s with the ${f(r.cores - unrelated, 2)} cores other work left free during the int8 bursts (median). int8 end to end (median) ${f(int8Rate)} img/s = ${f(int8Rate !== undefined && int8Bound ? (100 * int8Rate) / int8Bound : undefined, 0)} % of that bound (${f(int8Rate !== undefined && int8Machine ? (100 * int8Rate) / int8Machine : undefined, 0)} % of the whole machine's).`, '');
  if (r.int8Check) {
    const m = r.int8Check.methods[0]!;
    out.push(`int8 agreement with fp32 (\`npm run bench:int8\` in this run, the bundled nsfwjs MobileNetV2, ${m.method} calibration on ${r.int8Check.calibration.photos} shipped photos, judged on ${r.int8Check.heldOut.originals} held-out photos from ${r.int8Check.heldOut.from} and ${r.int8Check.heldOut.variants} variants): decisions equal on ${m.originals.sameDecision}/${m.originals.images} originals and ${m.all.sameDecision}/${m.all.images} with variants (**${f((100 * m.all.sameDecision) / m.all.images, 1)} %**), max |Δp| **${f(m.all.maxAbsDiffProbability, 3)}**, mean |Δp| ${f(m.all.meanAbsDiffProbability, 4)}.`, '');
    for (const x of r.int8Check.methods.slice(1)) out.push(`- ${x.method}: ${x.all.sameDecision}/${x.all.images} decisions equal, max |Δp| ${f(x.all.maxAbsDiffProbability, 3)}.`);
    const speed = r.int8Check.speed;
    const at32 = (model: string) => speed.filter((s) => s.model === model).map((s) => s.results.find((x) => x.batch === 32)!);
    out.push('', ...table(['Speed, batch 32 (same process, in turn)', 'img/s', 'CPU ms / image', 'cores elsewhere'], [...at32('fp32').map((x, i) => [`fp32, turn ${i + 1}`, f(x.imagesPerS), f(x.cpuMsPerImage, 2), f(x.coresElsewhere, 2)]),
      ...at32('int8').map((x, i) => [`int8, turn ${i + 1}`, f(x.imagesPerS), f(x.cpuMsPerImage, 2), f(x.coresElsewhere, 2)])]));
    const cpuRatio = median(at32('fp32').map((x) => x.cpuMsPerImage)) / median(at32('int8').map((x) => x.cpuMsPerImage));
    out.push('', `int8 needs **${f(cpuRatio, 2)}×** less CPU per image than fp32 at batch 32 (median of the turns).`, '');
  }

  // Feed rate.
  out.push('GPU stand-in feed rate: worker processes with the probe model (near-zero inference), pinned with `taskset -a`; the bench process (producer, consumer) and the S3 server run outside the pinning and are not counted.', '');
  out.push(...table(['Run', 'img/s', 'worker CPU ms / image', 'main-thread CPU ms / image', 'main-thread ELU', 'cores used', 'peak RSS MiB', 'redis ms / image', 'errors'], r.feed.map((x) => [
    x.label, f(x.imagesPerS), f(x.workerCpuMsPerImage), f(x.mainThreadCpuMsPerImage, 2), f(x.eventLoopUtilization, 2), f(x.coresUsed, 2), f(x.peakRssMiB, 0), f(x.redisCpuMsPerImage, 2), x.errors,
  ])), '');
  const one = r.feed.find((x) => x.label === '1 process, 1 core');
  const two = r.feed.find((x) => x.label === '1 process, 2 cores');
  const pair = r.feed.find((x) => x.label === '2 processes, 1 core each');
  const cpuFlat = one && two ? two.workerCpuMsPerImage / one.workerCpuMsPerImage : undefined;
  const addUp = one && pair ? pair.imagesPerS / one.imagesPerS : undefined;
  const perCore = two ? two.workerCpuMsPerImage : undefined;
  const implied = perCore ? (16 * 1000) / perCore : undefined;
  const mainCap = two ? 1000 / two.mainThreadCpuMsPerImage : undefined;
  const redisCap = two ? 1000 / two.redisCpuMsPerImage : undefined;
  const caps = [['one core\'s share (the main thread of one process)', mainCap], ['Redis (one thread)', redisCap]] as const;
  const first = caps.filter(([, v]) => v !== undefined && implied !== undefined && v < implied).sort((a, b) => a[1]! - b[1]!)[0];
  out.push(`Implied 16-core rate: 16 × 1000 / ${f(perCore)} ms = **${f(implied, 0)} img/s** if worker CPU per image stays flat. Caps: one process's main thread at ${f(two?.mainThreadCpuMsPerImage, 2)} ms/image allows ${f(mainCap, 0)} img/s per process (run several processes per box: they add up, ${f(addUp, 2)}× for two); Redis at ${f(two?.redisCpuMsPerImage, 2)} ms/image (INFO cpu, shared Redis, other sessions' clients included) allows ${f(redisCap, 0)} img/s; S3 lives elsewhere in production. What caps first: **${first ? first[0] : 'worker CPU (cores), before Redis or the main thread'}**${first ? ` at ${f(first[1], 0)} img/s` : ''}. Memory bandwidth was not measured.`, '');

  // Goals.
  const lowP50 = r.lowLoad?.receivedMs.p50;
  const refLowP50 = r.referenceLowLoad.length > 0 ? median(r.referenceLowLoad.map((x) => x.p50_ms)) : undefined;
  const goals: Array<[string, string, string]> = [
    ['#16.1 CPU outside inference ≤ 1.5× the floor of its decode path, per size class',
      [...ratios].map(([c, v]) => `${c} ${f(v, 2)}×`).join(', ') || '–', verdict(ratios.size > 0 ? [...ratios.values()].every((v) => v <= 1.5) : undefined)],
    ['#16.2 int8: `revmod model quantize`, decisions equal on ≥ 99 % of real photos',
      r.int8Check ? `${f((100 * r.int8Check.methods[0]!.all.sameDecision) / r.int8Check.methods[0]!.all.images, 1)} % of ${r.int8Check.methods[0]!.all.images} held-out (max |Δp| ${f(r.int8Check.methods[0]!.all.maxAbsDiffProbability, 3)})` : '–',
      verdict(r.int8Check ? r.int8Check.methods[0]!.all.sameDecision / r.int8Check.methods[0]!.all.images >= 0.99 : undefined)],
    ['#16.3 CPU worker ≥ 2× the reference, same run (int8, parity mode)', int8Ratios.length > 0 ? `int8 / reference per turn ${int8Ratios.map((x) => `${f(x, 2)}×`).join(', ')} (median ${f(int8Median, 2)}×)` : '–', verdict(int8Median !== undefined ? int8Median >= 2 : undefined)],
    ['#16.3 ≥ 90 % of its own stage bound', int8Rate !== undefined && int8Bound ? `${f((100 * int8Rate) / int8Bound, 0)} % (${f(int8Rate)} of ${f(int8Bound)} img/s on the cores left free)` : '–', verdict(int8Rate !== undefined && int8Bound ? int8Rate >= 0.9 * int8Bound : undefined)],
    ['#16.4 / #9.4 lone photo p50 ≤ the reference\'s single-client p50', lowP50 !== undefined && refLowP50 !== undefined ? `${f(lowP50, 0)} vs ${f(refLowP50, 0)} ms (${f(lowP50 / refLowP50, 2)}×)` : '–', verdict(lowP50 !== undefined && refLowP50 !== undefined ? lowP50 <= refLowP50 : undefined)],
    ['#9.1 pool of worker threads (piscina), tensors written off the main thread', 'src/pool: decode, resampling, normalisation and detectors in the pool', '**met**'],
    ['#9.2 main-thread CPU ≤ 2 ms per image (stand-in, 2 cores)', two ? `${f(two.mainThreadCpuMsPerImage, 2)} ms` : '–', verdict(two ? two.mainThreadCpuMsPerImage <= 2 : undefined)],
    ['#9.2 main-thread ELU ≤ 0.5 at full load', two ? f(two.eventLoopUtilization, 2) : '–', verdict(two ? two.eventLoopUtilization <= 0.5 : undefined)],
    ['#9.3 worker CPU per image flat from 1 to 2 cores', cpuFlat !== undefined ? `${f(one!.workerCpuMsPerImage)} → ${f(two!.workerCpuMsPerImage)} ms (${f(cpuFlat, 2)}×)` : '–', verdict(cpuFlat !== undefined ? Math.abs(cpuFlat - 1) <= 0.15 : undefined)],
    ['#9.3 ≥ 1.8 cores used when given 2', two ? `${f(two.coresUsed, 2)} cores` : '–', verdict(two ? two.coresUsed >= 1.8 : undefined)],
    ['#9.3 two worker processes on one Redis add up', addUp !== undefined ? `${f(pair!.imagesPerS)} vs ${f(one!.imagesPerS)} img/s for one on one core (${f(addUp, 2)}×)` : '–', verdict(addUp !== undefined ? addUp >= 1.8 : undefined)],
    ['#9.4 parity bounds unchanged', r.parityWorstMax !== undefined ? `worst max ${f(r.parityWorstMax, 3)} ('torchvision')` : '–', r.parityWorstMax !== undefined ? 'reported' : 'not measured'],
    ['#9.4 RSS flat over the soak', r.soak ? `${f(r.soak.growthPct, 1)} % (soak of ${r.soak.date})` : 'no soak in this run', r.soak ? verdict(r.soak.growthPct <= 10) : 'not measured'],
  ];
  out.push('| Goal | Measured | |', '| --- | --- | --- |', ...goals.map((g) => row(g)), '');
  return out.join('\n');
}
