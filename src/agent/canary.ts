// A canary rollout for one meshlet: the share of traffic sent to the canary
// version walks through spec.canary.steps (e.g. 5 → 25 → 50 → 100 %), one step
// per interval. Reaching 100 % completes it (phase "promoted"); a last step
// below 100 holds there ("holding") until promoted by hand. The admin API
// pauses, resumes, promotes (100 % now) or rolls back (0 % now).
import type { CanarySpec } from '../config/meshlet.js';

export type CanaryPhase = 'progressing' | 'paused' | 'holding' | 'promoted' | 'rolled-back';
export type CanaryAction = 'pause' | 'resume' | 'promote' | 'rollback';

export interface CanaryStatus {
  stable: string;
  canary: string;
  phase: CanaryPhase;
  /** Percent of traffic to the canary version now. */
  canaryPercent: number;
  step: number;
  steps: readonly number[];
  intervalMs: number;
  /** When the next step is due (ms since epoch), while progressing. */
  nextStepAt: number | null;
}

export class CanaryRollout {
  readonly spec: CanarySpec;
  #phase: CanaryPhase = 'progressing';
  #step = 0;
  #percent: number;
  #timer: NodeJS.Timeout | undefined;
  #nextAt: number | null = null;
  readonly #onChange: (rollout: CanaryRollout) => void;

  /** `onChange` runs after every change of the canary share (to reweight the routes). */
  constructor(spec: CanarySpec, onChange: (rollout: CanaryRollout) => void) {
    this.spec = spec;
    this.#onChange = onChange;
    this.#percent = spec.steps[0]!;
    this.#settle();
  }

  get canaryPercent(): number {
    return this.#percent;
  }

  get phase(): CanaryPhase {
    return this.#phase;
  }

  status(): CanaryStatus {
    return {
      stable: this.spec.stable,
      canary: this.spec.canary,
      phase: this.#phase,
      canaryPercent: this.#percent,
      step: this.#step,
      steps: this.spec.steps,
      intervalMs: this.spec.intervalMs,
      nextStepAt: this.#nextAt,
    };
  }

  /** Applies an admin action; returns an explanation when it does not apply in this phase. */
  apply(action: CanaryAction): string | undefined {
    switch (action) {
      case 'pause':
        if (this.#phase !== 'progressing' && this.#phase !== 'holding') return `cannot pause a rollout that is ${this.#phase}`;
        this.#clearTimer();
        this.#phase = 'paused';
        return undefined;
      case 'resume':
        if (this.#phase !== 'paused') return `cannot resume a rollout that is ${this.#phase}`;
        this.#phase = 'progressing';
        this.#settle();
        return undefined;
      case 'promote':
        if (this.#phase === 'promoted') return 'the rollout is already promoted';
        this.#finish('promoted', 100);
        return undefined;
      case 'rollback':
        if (this.#phase === 'rolled-back') return 'the rollout is already rolled back';
        this.#finish('rolled-back', 0);
        return undefined;
    }
  }

  /** Stops the step timer (meshlet removed or agent stopping). */
  stop(): void {
    this.#clearTimer();
  }

  #finish(phase: CanaryPhase, percent: number): void {
    this.#clearTimer();
    this.#phase = phase;
    this.#percent = percent;
    this.#onChange(this);
  }

  /** Decides what happens at the current step: wait for the next, hold, or complete. */
  #settle(): void {
    const last = this.#step === this.spec.steps.length - 1;
    if (last) {
      this.#phase = this.#percent >= 100 ? 'promoted' : 'holding';
      this.#nextAt = null;
      return;
    }
    this.#nextAt = Date.now() + this.spec.intervalMs;
    this.#timer = setTimeout(() => this.#advance(), this.spec.intervalMs);
    this.#timer.unref();
  }

  #advance(): void {
    this.#timer = undefined;
    this.#step++;
    this.#percent = this.spec.steps[this.#step]!;
    this.#settle();
    this.#onChange(this);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = null;
  }
}
