// Lifeguard's local health multiplier (LHM): a saturating counter of evidence
// that *this* member is slow (missed acks, missing nacks, having to refute a
// suspicion). It scales the probe interval and probe timeout so a member that
// cannot keep up probes less aggressively instead of accusing healthy peers.

export class Awareness {
  private score = 0;

  /** `max` is the saturation bound: the multiplier ranges over 1..max. */
  constructor(private readonly max: number) {}

  /** Raises (positive) or lowers (negative) the score, clamped to [0, max - 1]. */
  apply(delta: number): void {
    const s = this.score + delta;
    this.score = s < 0 ? 0 : s > this.max - 1 ? this.max - 1 : s;
  }

  /** 0 is fully healthy. */
  get health(): number {
    return this.score;
  }

  /** `ms` stretched by the current multiplier (health + 1). */
  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
