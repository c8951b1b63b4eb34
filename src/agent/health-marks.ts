// The proxy's health-check verdicts on this agent's own instances, kept by the
// agent so the gossip layer can publish them: the proxy is built before gossip
// starts (and without a catalog in the `weft agent` process), so its checks
// report here, and AgentGossip folds the marks into what it publishes (an
// instance is UP in the catalog only if it is reachable and no check says DOWN)
// and republishes at once when a mark changes.
import { teeHealthReporter, type AgentProxyDeps } from '../proxy/agent-proxy.js';
import type { Health } from '../proxy/endpoints.js';

const SEP = '\u0000';

export class HealthMarks {
  /** serviceId + NUL + instance of every instance a check holds DOWN. */
  readonly #down = new Set<string>();
  readonly #listeners: Array<(serviceId: string, instance: string, health: Health) => void> = [];

  /** Records a check's verdict; true when it changed the mark. */
  set(serviceId: string, instance: string, health: Health): boolean {
    const key = serviceId + SEP + instance;
    if ((health === 'DOWN') === this.#down.has(key)) return false;
    if (health === 'DOWN') this.#down.add(key);
    else this.#down.delete(key);
    for (const l of this.#listeners) l(serviceId, instance, health);
    return true;
  }

  /** DOWN when a check marked the instance DOWN and has not seen it recover; UP otherwise (unchecked included). */
  get(serviceId: string, instance: string): Health {
    return this.#down.has(serviceId + SEP + instance) ? 'DOWN' : 'UP';
  }

  onChange(listener: (serviceId: string, instance: string, health: Health) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * The proxy's dependencies with its health reporter teed through here, then on
   * to the reporter they name (or their catalog's setHealth), as before. Without a
   * reporter of its own the mark is taken here (gossip publishes it when it runs).
   */
  proxyDeps(deps: AgentProxyDeps | undefined): AgentProxyDeps {
    return teeHealthReporter(deps, (serviceId, instance, health) => this.set(serviceId, instance, health), true);
  }
}
