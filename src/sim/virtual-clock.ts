// Virtual time. The Scheduler owns the event queue and the one virtual "now";
// each simulated process gets a ProcessClock (the Clock its Membership uses)
// that can be paused (its timers that come due wait until it resumes, then
// fire late, as a SIGSTOPped process's would) or killed (its timers never fire).

import type { Clock, TimerHandle } from '../gossip/types.js';
import { EventQueue, type SimEvent } from './event-queue.js';

const NOOP = (): void => {};

const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  private readonly queue = new EventQueue();
  private nextId = 1;
  private current = 0;
  /** Events run so far. */
  executed = 0;
  /** Called every `progressEvery` events (a long run's progress report; it must not touch the simulation). */
  onProgress: (() => void) | undefined;
  progressEvery = 250_000;

  get now(): number {
    return this.current;
  }

  /** Runs `fn` after `delayMs` of virtual time. `settles` marks events that resolve promises. */
  schedule(delayMs: number, fn: () => void, settles = false): SimEvent {
    const e: SimEvent = { time: this.current + (delayMs > 0 ? delayMs : 0), id: this.nextId++, fn, settles, cancelled: false };
    this.queue.push(e);
    return e;
  }

  /**
   * Cancellation is lazy (the event stays in the heap until its time), so the
   * closure is dropped now: a request's timeout captures the request payload,
   * and at 10,000 members the push-pulls of the last 10 s (requestTimeoutMs)
   * held gigabytes that way.
   */
  cancel(e: SimEvent): void {
    e.cancelled = true;
    e.fn = NOOP;
  }

  /**
   * Runs events up to virtual time `until` (inclusive), or until `stop()`
   * turns true after an event. Promise continuations triggered by an event run
   * before the next event, so async protocol code sees the same virtual time.
   */
  async run(until: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      const e = this.queue.peek();
      if (!e || e.time > until) break;
      this.queue.pop();
      if (e.cancelled) continue;
      this.current = e.time;
      this.executed++;
      e.fn();
      if (this.onProgress !== undefined && this.executed % this.progressEvery === 0) this.onProgress();
      if (e.settles) await drainMicrotasks();
      if (stop && stop()) return;
    }
    if (until > this.current && Number.isFinite(until)) this.current = until;
  }
}

export class ProcessClock implements Clock {
  private paused = false;
  private killed = false;
  private deferred: SimEvent[] = [];

  constructor(private readonly scheduler: Scheduler) {}

  now(): number {
    return this.scheduler.now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const e = this.scheduler.schedule(ms, () => {
      if (this.killed) return;
      if (this.paused) this.deferred.push(e);
      else fn();
    });
    return e;
  }

  clearTimeout(handle: TimerHandle): void {
    this.scheduler.cancel(handle as SimEvent);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  /** Timers that came due while paused fire now, in order. */
  resume(): void {
    this.paused = false;
    const due = this.deferred;
    this.deferred = [];
    this.scheduler.schedule(0, () => {
      for (const e of due) if (!e.cancelled && !this.killed) e.fn();
    });
  }

  kill(): void {
    this.killed = true;
    this.deferred = [];
  }
}
