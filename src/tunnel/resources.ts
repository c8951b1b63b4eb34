// A count of what the tunnel layer holds open (handshakes in progress, live
// sessions): tests use it to check that a refused peer leaves nothing behind,
// the admin API can show it.
export type ResourceKind = 'handshake' | 'session';

const live: Record<ResourceKind, number> = { handshake: 0, session: 0 };

/** Counts one resource of kind; the returned function releases it (once). */
export function trackResource(kind: ResourceKind): () => void {
  live[kind]++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    live[kind]--;
  };
}

/** Handshakes in progress and sessions not yet closed in this process. */
export function tunnelResources(): Record<ResourceKind, number> {
  return { ...live };
}
