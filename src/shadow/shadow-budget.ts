/** Options of {@link ShadowBudget}. */
export interface ShadowBudgetOptions {
  /** Most of the wall-clock time the shadow work may take over time, 0–1. */
  readonly share: number;
  /**
   * Credit that may pile up while traffic is light, so that a quiet minute does not buy a long
   * burst at full speed later.
   * @defaultValue 2000
   */
  readonly maxCreditMs?: number;
  /** Clock in ms (tests pass their own). @defaultValue performance.now */
  readonly nowMs?: () => number;
}

/**
 * A time budget for shadow scoring: credit accrues at `share` ms per ms of wall clock (up to
 * `maxCreditMs`). An image is admitted only while the credit is positive, and its estimated cost is
 * charged at once (a reservation), then settled against its real cost (tensor build and its share
 * of the challenger's batch) once known. Charging at admission matters: under load dozens of jobs
 * start before the first real cost is known, and charging only then let the challenger take
 * several times its share for tens of seconds (bench:shadow).
 */
export class ShadowBudget {
  readonly share: number;
  private readonly maxCreditMs: number;
  private readonly now: () => number;
  private creditValue: number;
  private last: number;
  private chargedMs = 0;

  constructor(o: ShadowBudgetOptions) {
    if (!(o.share >= 0 && o.share <= 1)) throw new RangeError(`share must be from 0 to 1, received ${o.share}`);
    this.share = o.share;
    this.maxCreditMs = o.maxCreditMs ?? 2_000;
    if (!(this.maxCreditMs >= 0)) throw new RangeError(`maxCreditMs must be ≥ 0, received ${o.maxCreditMs}`);
    this.now = o.nowMs ?? (() => performance.now());
    this.last = this.now();
    // A fresh worker starts as an idle one would stand: with the full credit (a bounded burst).
    this.creditValue = this.share > 0 ? this.maxCreditMs : 0;
  }

  private accrue(): void {
    const t = this.now();
    this.creditValue = Math.min(this.maxCreditMs, this.creditValue + (t - this.last) * this.share);
    this.last = t;
  }

  /** ms of credit now (negative while recent charges are being paid off). */
  get creditMs(): number {
    this.accrue();
    return this.creditValue;
  }

  /** Total ms charged since start. */
  get totalChargedMs(): number {
    return this.chargedMs;
  }

  /** Whether another image may be shadowed now. */
  admits(): boolean {
    return this.share > 0 && this.creditMs > 0;
  }

  /** Charges work (a reservation, a tensor build, a challenger run). */
  charge(ms: number): void {
    if (!(ms >= 0)) return;
    this.accrue();
    this.creditValue -= ms;
    this.chargedMs += ms;
  }

  /** Gives back what a reservation charged beyond the real cost (or the whole of a cancelled one). */
  refund(ms: number): void {
    if (!(ms > 0)) return;
    this.accrue();
    this.creditValue = Math.min(this.maxCreditMs, this.creditValue + ms);
    this.chargedMs -= ms;
  }
}
