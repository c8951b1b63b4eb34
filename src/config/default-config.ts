// The embedded default config: what `weft agent` (and `npm start`) runs with no
// --config. Socket root under the working directory, admin on loopback, and a
// sample meshlet `demo` whose `echo` service the agent serves itself, so that
// `echo hi | weft connect echo.demo.default` works with nothing else running.
import { parse as parseYaml } from 'yaml';
import { parseAgentConfig, type AgentConfig } from './agent-config.js';

export const DEFAULT_CONFIG_YAML = `\
apiVersion: weft.dev/v1alpha1
kind: AgentConfig
socketRoot: ./.weft/sockets
admin:
  host: 127.0.0.1
  port: 9901
meshlets:
  inline:
    - apiVersion: weft.dev/v1alpha1
      kind: Meshlet
      metadata:
        name: demo
        namespace: default
      spec:
        provides: [echo]
        uses: [echo.demo.default]
        idleTimeout: 5m
demoEcho: [echo.demo.default]
`;

export const EMBEDDED_SOURCE = '(embedded default)';

/** The embedded default, with relative paths resolved against `cwd`. */
export function defaultAgentConfig(cwd: string = process.cwd()): AgentConfig {
  return parseAgentConfig(parseYaml(DEFAULT_CONFIG_YAML), EMBEDDED_SOURCE, cwd);
}
