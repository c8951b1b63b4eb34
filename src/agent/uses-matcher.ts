// Access control by declared use: a meshlet reaches a service only if its
// spec.uses lists the service ID exactly or a pattern that matches it. In a
// pattern a whole part may be `*`, matching any DNS label in that position:
//   *.payments.prod   every service of meshlet payments in namespace prod
//   *.*.prod          every service in namespace prod
//   http.*.prod       service http of any meshlet in namespace prod
//   *.*.*             everything
// `*` never matches part of a label ("pay*" is rejected at load) and never
// spans a dot, so "*.prod" is not a valid pattern (IDs always have 3 parts).

export class UsesMatcher {
  readonly #exact = new Set<string>();
  /** [service | null, meshlet | null, namespace | null]; null = `*`. */
  readonly #patterns: Array<readonly [string | null, string | null, string | null]> = [];

  constructor(uses: readonly string[]) {
    for (const u of uses) {
      if (!u.includes('*')) {
        this.#exact.add(u);
        continue;
      }
      const [s, m, n] = u.split('.') as [string, string, string];
      const part = (p: string) => (p === '*' ? null : p);
      this.#patterns.push([part(s), part(m), part(n)]);
    }
  }

  /** True if `serviceId` (a well-formed <service>.<meshlet>.<ns>) is allowed. */
  allows(serviceId: string): boolean {
    if (this.#exact.has(serviceId)) return true;
    if (this.#patterns.length === 0) return false;
    const d1 = serviceId.indexOf('.');
    const d2 = serviceId.indexOf('.', d1 + 1);
    const s = serviceId.slice(0, d1);
    const m = serviceId.slice(d1 + 1, d2);
    const n = serviceId.slice(d2 + 1);
    for (const [ps, pm, pn] of this.#patterns) {
      if ((ps === null || ps === s) && (pm === null || pm === m) && (pn === null || pn === n)) return true;
    }
    return false;
  }
}
