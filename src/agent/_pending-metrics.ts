// TEMPORARY minimal Prometheus registry until src/admin/metrics.ts is merged
// (same calling shape: counter/gauge/histogram with label names, render()).
// Delete once the real registry lands.
type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const key = (names: readonly string[], labels: Labels) => names.map((n) => labels[n] ?? '').join('\u0000');
const fmtLabels = (names: readonly string[], values: string[], extra = '') => {
  const parts = names.map((n, i) => `${n}="${escape(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
};

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: string,
  ) {}
  abstract lines(): string[];
}

class Scalar extends Metric {
  readonly values = new Map<string, number>();
  inc(labels: Labels = {}, n = 1): void {
    const k = key(this.labelNames, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }
  dec(labels: Labels = {}, n = 1): void {
    this.inc(labels, -n);
  }
  set(labels: Labels, v: number): void {
    this.values.set(key(this.labelNames, labels), v);
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${fmtLabels(this.labelNames, k.split('\u0000'))} ${v}`);
  }
}

class Histogram extends Metric {
  readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames, 'histogram');
  }
  observe(labels: Labels, v: number): void {
    const k = key(this.labelNames, labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const values = k.split('\u0000');
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${fmtLabels(this.labelNames, values, `le="${b}"`)} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${fmtLabels(this.labelNames, values, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${fmtLabels(this.labelNames, values)} ${s.sum}`);
      out.push(`${this.name}_count${fmtLabels(this.labelNames, values)} ${s.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  counter(name: string, help: string, labelNames: readonly string[] = []): Scalar {
    return this.#add(new Scalar(name, help, labelNames, 'counter'));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Scalar {
    return this.#add(new Scalar(name, help, labelNames, 'gauge'));
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }
  #add<M extends Metric>(m: M): M {
    this.#metrics.push(m);
    return m;
  }
  render(): string {
    return this.#metrics.map((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.lines()].join('\n')).join('\n') + '\n';
  }
}
