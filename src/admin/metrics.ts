// Metrics registry rendering the Prometheus text exposition format, version 0.0.4:
// counters, gauges and histograms with label sets. The data path only touches numbers:
// a label set's child is found through one Map per label (no key string built), its
// label text is formatted once when the child is created, and render() does the rest.

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The Prometheus clients' default buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Label values by label name. Strings take the allocation-free path; numbers are converted. */
export type LabelValues = Readonly<Record<string, string | number>>;

export type MetricType = 'counter' | 'gauge' | 'histogram';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** A label name: [a-zA-Z_][a-zA-Z0-9_]*, and not starting with `__` (reserved). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value;
}

/** Escapes HELP text: backslash and line feed (quotes stay as they are). */
export function escapeHelp(help: string): string {
  return /[\\\n]/.test(help) ? help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\')) : help;
}

/** A sample value as the format spells it: +Inf, -Inf, NaN, or a Go-parsable float. */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return v === 0 && 1 / v < 0 ? '-0' : String(v); // String(-0) is "0"
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

// ---------------------------------------------------------------- children

export class CounterChild {
  value = 0;
  inc(n = 1): void {
    if (!(n >= 0)) throw new RangeError(`a counter only goes up: inc(${n})`);
    this.value += n;
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class HistogramChild {
  /** Per-bucket counts, not cumulative (render() sums them); the +Inf bucket is `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly upperBounds: Float64Array) {
    this.counts = new Float64Array(upperBounds.length);
  }
  observe(v: number): void {
    const bounds = this.upperBounds;
    // Linear scan: bucket lists are short (about a dozen), and this path stays branch-light.
    for (let i = 0; i < bounds.length; i++) {
      if (v <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }
}

// ---------------------------------------------------------------- metrics

interface Entry<C> {
  readonly child: C;
  /** `a="x",b="y"` (empty without labels), formatted once. */
  readonly pairs: string;
  readonly path: readonly string[];
}

type Tree<C> = Map<string, Tree<C> | Entry<C>>;

abstract class Metric<C> {
  abstract readonly type: MetricType;
  private readonly tree: Tree<C> = new Map();
  private readonly entries: Entry<C>[] = [];
  private readonly unlabelled: Entry<C> | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly newChild: () => C,
  ) {
    // A metric without labels has one series from the start: it renders as 0, not absent.
    this.unlabelled = labelNames.length === 0 ? this.add([], '') : undefined;
  }

  protected abstract renderEntry(out: string[], pairs: string, child: C): void;

  /** The child for a label set (created on first use): the hot-path accessor. */
  labels(values?: LabelValues): C {
    if (this.unlabelled) {
      if (values !== undefined && Object.keys(values).length > 0) this.checkLabels(values);
      return this.unlabelled.child;
    }
    if (values === undefined) throw new TypeError(`${this.name} needs labels ${this.labelNames.join(', ')}`);
    const names = this.labelNames;
    let node: Tree<C> = this.tree;
    for (let i = 0; i < names.length; i++) {
      const v = values[names[i]!];
      if (typeof v !== 'string') return this.create(values);
      const next = node.get(v);
      if (next === undefined) return this.create(values);
      if (i === names.length - 1) return (next as Entry<C>).child;
      node = next as Tree<C>;
    }
    throw new Error('unreachable');
  }

  /**
   * Drops one label set's series (e.g. a meshlet that was removed). A child obtained
   * earlier through labels() is detached from then on: look it up again.
   */
  remove(values: LabelValues): boolean {
    if (this.unlabelled) return false;
    const path = this.checkLabels(values);
    const parents: Tree<C>[] = [];
    let node: Tree<C> = this.tree;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node.get(path[i]!);
      if (next === undefined) return false;
      parents.push(node);
      node = next as Tree<C>;
    }
    const entry = node.get(path[path.length - 1]!) as Entry<C> | undefined;
    if (entry === undefined) return false;
    node.delete(path[path.length - 1]!);
    // Prune maps left empty so a churn of label sets does not leak.
    for (let i = parents.length - 1; i >= 0 && node.size === 0; i--) {
      parents[i]!.delete(path[i]!);
      node = parents[i]!;
    }
    this.entries.splice(this.entries.indexOf(entry), 1);
    return true;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`);
    for (const e of this.entries) this.renderEntry(out, e.pairs, e.child);
  }

  /** Validates a label set: exactly the declared names. Returns the values in order. */
  private checkLabels(values: LabelValues): string[] {
    const names = this.labelNames;
    let given = 0;
    for (const key in values) {
      if (!Object.prototype.hasOwnProperty.call(values, key)) continue;
      given++;
      if (!names.includes(key)) throw new TypeError(`${this.name} has no label ${JSON.stringify(key)} (labels: ${names.join(', ') || 'none'})`);
    }
    const path = names.map((n) => {
      const v = values[n];
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      throw new TypeError(`${this.name} needs label ${n} as a string, got ${v === undefined ? 'nothing' : typeof v}`);
    });
    if (given !== names.length) throw new TypeError(`${this.name} needs labels ${names.join(', ')}`);
    return path;
  }

  private create(values: LabelValues): C {
    const path = this.checkLabels(values);
    let node: Tree<C> = this.tree;
    for (let i = 0; i < path.length - 1; i++) {
      let next = node.get(path[i]!) as Tree<C> | undefined;
      if (next === undefined) node.set(path[i]!, (next = new Map()));
      node = next;
    }
    const last = path[path.length - 1]!;
    const existing = node.get(last) as Entry<C> | undefined;
    if (existing) return existing.child; // a number label value that matched after String()
    const pairs = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(path[i]!)}"`).join(',');
    const entry = this.add(path, pairs);
    node.set(last, entry);
    return entry.child;
  }

  private add(path: string[], pairs: string): Entry<C> {
    const entry: Entry<C> = { child: this.newChild(), pairs, path };
    this.entries.push(entry);
    return entry;
  }
}

const braces = (pairs: string): string => (pairs ? `{${pairs}}` : '');

export class Counter extends Metric<CounterChild> {
  readonly type = 'counter';
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, () => new CounterChild());
  }
  /** inc(), inc(n), inc(labels), inc(labels, n). */
  inc(labelsOrN?: LabelValues | number, n = 1): void {
    if (typeof labelsOrN === 'number') this.labels().inc(labelsOrN);
    else this.labels(labelsOrN).inc(n);
  }
  get(labels?: LabelValues): number {
    return this.labels(labels).value;
  }
  protected renderEntry(out: string[], pairs: string, child: CounterChild): void {
    out.push(`${this.name}${braces(pairs)} ${formatValue(child.value)}\n`);
  }
}

export class Gauge extends Metric<GaugeChild> {
  readonly type = 'gauge';
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, () => new GaugeChild());
  }
  /** set(v) or set(labels, v). */
  set(labelsOrV: LabelValues | number, v?: number): void {
    if (typeof labelsOrV === 'number') this.labels().set(labelsOrV);
    else this.labels(labelsOrV).set(v ?? 0);
  }
  inc(labelsOrN?: LabelValues | number, n = 1): void {
    if (typeof labelsOrN === 'number') this.labels().inc(labelsOrN);
    else this.labels(labelsOrN).inc(n);
  }
  dec(labelsOrN?: LabelValues | number, n = 1): void {
    if (typeof labelsOrN === 'number') this.labels().dec(labelsOrN);
    else this.labels(labelsOrN).dec(n);
  }
  get(labels?: LabelValues): number {
    return this.labels(labels).value;
  }
  protected renderEntry(out: string[], pairs: string, child: GaugeChild): void {
    out.push(`${this.name}${braces(pairs)} ${formatValue(child.value)}\n`);
  }
}

export class Histogram extends Metric<HistogramChild> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  private readonly leText: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_BUCKETS) {
    const bounds = checkBuckets(name, buckets);
    super(name, help, labelNames, () => new HistogramChild(bounds));
    this.buckets = Array.from(bounds);
    this.leText = [...this.buckets.map(formatValue), '+Inf'];
  }

  /** observe(v) or observe(labels, v). */
  observe(labelsOrV: LabelValues | number, v?: number): void {
    if (typeof labelsOrV === 'number') this.labels().observe(labelsOrV);
    else this.labels(labelsOrV).observe(v ?? 0);
  }
  protected renderEntry(out: string[], pairs: string, child: HistogramChild): void {
    const prefix = `${this.name}_bucket{${pairs ? `${pairs},` : ''}le="`;
    let cumulative = 0;
    for (let i = 0; i < child.counts.length; i++) {
      cumulative += child.counts[i]!;
      out.push(`${prefix}${this.leText[i]}"} ${formatValue(cumulative)}\n`);
    }
    out.push(`${prefix}+Inf"} ${formatValue(child.count)}\n`);
    out.push(`${this.name}_sum${braces(pairs)} ${formatValue(child.sum)}\n`);
    out.push(`${this.name}_count${braces(pairs)} ${formatValue(child.count)}\n`);
  }
}

/** Sorted, distinct, finite upper bounds; a trailing +Inf is implied and dropped if given. */
function checkBuckets(name: string, buckets: readonly number[]): Float64Array {
  const finite = buckets.filter((b) => b !== Infinity);
  if (finite.length === 0) throw new TypeError(`${name}: a histogram needs at least one finite bucket`);
  for (let i = 0; i < finite.length; i++) {
    if (typeof finite[i] !== 'number' || !Number.isFinite(finite[i])) throw new TypeError(`${name}: bucket ${finite[i]} is not a finite number`);
    if (i > 0 && !(finite[i]! > finite[i - 1]!)) throw new TypeError(`${name}: buckets must increase strictly, got ${finite[i - 1]} then ${finite[i]}`);
  }
  return Float64Array.from(finite);
}

// ---------------------------------------------------------------- registry

export class MetricsRegistry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();
  /** Every sample name in use (a histogram's _bucket, _sum, _count included), to catch clashes. */
  private readonly sampleNames = new Map<string, string>();
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register('counter', name, help, labelNames, undefined, () => new Counter(name, help, labelNames)) as Counter;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register('gauge', name, help, labelNames, undefined, () => new Gauge(name, help, labelNames)) as Gauge;
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_BUCKETS): Histogram {
    if (labelNames.includes('le')) throw new TypeError(`${name}: 'le' is reserved for histogram buckets`);
    return this.register('histogram', name, help, labelNames, buckets, () => new Histogram(name, help, labelNames, buckets)) as Histogram;
  }

  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.metrics.get(name);
  }

  /** Runs `fn` at the start of every render, e.g. to set gauges from live state. */
  addCollector(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** The whole registry in text format 0.0.4, metrics in registration order. */
  render(): string {
    for (const collect of this.collectors) collect();
    const out: string[] = [];
    for (const metric of this.metrics.values()) metric.render(out);
    return out.join('');
  }

  /**
   * Registering the same name again with the same type, labels (and buckets) returns the
   * existing metric, so independent modules can share one; anything else throws.
   */
  private register(
    type: MetricType,
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[] | undefined,
    make: () => Counter | Gauge | Histogram,
  ): Counter | Gauge | Histogram {
    if (!isValidMetricName(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}: [a-zA-Z_:][a-zA-Z0-9_:]*`);
    const seen = new Set<string>();
    for (const l of labelNames) {
      if (!isValidLabelName(l)) throw new TypeError(`${name}: invalid label name ${JSON.stringify(l)}: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __`);
      if (seen.has(l)) throw new TypeError(`${name}: label ${l} given twice`);
      seen.add(l);
    }
    const existing = this.metrics.get(name);
    if (existing) {
      const same =
        existing.type === type &&
        existing.labelNames.join('\0') === labelNames.join('\0') &&
        (!(existing instanceof Histogram) || existing.buckets.join(',') === checkBuckets(name, buckets ?? []).join(','));
      if (!same) throw new TypeError(`metric ${name} is already registered as a ${existing.type} with labels [${existing.labelNames.join(', ')}]`);
      return existing;
    }
    const samples = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`, name] : [name];
    for (const s of samples) {
      const owner = this.sampleNames.get(s);
      if (owner !== undefined) throw new TypeError(`metric ${name} would clash with ${owner}'s series ${s}`);
    }
    const metric = make();
    for (const s of samples) this.sampleNames.set(s, name);
    this.metrics.set(name, metric);
    return metric;
  }
}
