// A deterministic stream of catalog changes (the same for a test and the child
// process it kills), so a test can recompute the exact state at any version.
import { CatalogState } from '../../src/sync/catalog-state.js';
import type { CatalogChange, SyncEvent } from '../../src/sync/events.js';

/** Change number i (1-based): adds, updates, health flaps and removals over 40 objects. */
export function scriptedChange(i: number): CatalogChange {
  const n = i % 40;
  const uid = `ep-${n}`;
  const step = Math.floor(i / 40) % 6;
  if (step === 5 && n % 3 === 0) return { kind: 'endpoint', event: 'removed', uid, object: { id: uid } };
  if (step === 2) return { kind: 'health', event: i % 2 ? 'down' : 'up', uid, object: { id: uid, i } };
  return { kind: 'endpoint', event: step === 0 ? 'added' : 'updated', uid, object: { id: uid, address: `10.0.${n}.1:7000`, weight: i % 100, i } };
}

/** The event the engine stamps for change i when its clock reads 0 (versions 1, 2, 3 …). */
export function scriptedEvent(i: number, agent: string): SyncEvent {
  const c = scriptedChange(i);
  return { uid: c.uid, version: i, timestamp: new Date(0).toISOString(), agent, kind: c.kind, event: c.event, object: c.object as SyncEvent['object'] };
}

/** The catalog after changes 1..version. */
export function scriptedState(version: number, agent: string): SyncEvent[] {
  const state = new CatalogState();
  for (let i = 1; i <= version; i++) state.apply(scriptedEvent(i, agent));
  return state.list();
}
