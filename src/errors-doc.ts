// Renders docs/errors.md from the error registry (scripts/gen-errors-doc.mjs
// writes it; test/errors-doc.test.ts checks the checked-in file matches).
import { ERRORS, type ErrorSpec } from './errors.js';

/** Section titles by code prefix letter; an unlisted letter still gets a section. */
export const ERROR_GROUPS: Record<string, string> = {
  A: 'Agent',
  C: 'Configuration',
  D: 'Discovery',
  G: 'Gossip',
  H: 'HTTP proxy',
  K: 'Kernels',
  M: 'Admin and metrics',
  P: 'Proxy',
  S: 'Sync',
  T: 'Tunnel',
};

export const REGENERATE_COMMAND = 'node scripts/gen-errors-doc.mjs';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderErrorsDoc(registry: Record<string, ErrorSpec> = ERRORS): string {
  const codes = Object.keys(registry).sort();
  const groups = new Map<string, string[]>();
  for (const code of codes) {
    const letter = code.slice('WEFT-'.length, 'WEFT-'.length + 1);
    if (!groups.has(letter)) groups.set(letter, []);
    groups.get(letter)!.push(code);
  }
  const out: string[] = [
    '# weft error codes',
    '',
    `<!-- Generated from src/errors.ts by \`${REGENERATE_COMMAND}\`. Do not edit by hand. -->`,
    '',
    'Every error weft raises carries a stable code, a severity, the probable cause and a remediation.',
    'Logs carry them as one JSON line (`code`, `severity`, `message`, `cause`, `remediation`, `context`);',
    '`weft explain CODE` prints an entry. Severities: **fatal** (the process cannot continue),',
    '**error** (an operation failed), **warning** (degraded, weft carries on), **info**.',
    '',
  ];
  for (const [letter, list] of groups) {
    out.push(`- [${ERROR_GROUPS[letter] ?? `WEFT-${letter}`} (WEFT-${letter}…)](#${groupAnchor(letter)}): ${list.length} code${list.length === 1 ? '' : 's'}`);
  }
  out.push('');
  for (const [letter, list] of groups) {
    out.push(`<a id="${groupAnchor(letter)}"></a>`, '', `## ${ERROR_GROUPS[letter] ?? `WEFT-${letter}`} (WEFT-${letter}…)`, '');
    out.push('| code | severity | title |', '|---|---|---|');
    for (const code of list) out.push(`| [${code}](#${code.toLowerCase()}) | ${registry[code]!.severity} | ${cell(registry[code]!.title)} |`);
    out.push('');
    for (const code of list) {
      const spec = registry[code]!;
      out.push(
        `<a id="${code.toLowerCase()}"></a>`,
        '',
        `### ${code} — ${spec.title}`,
        '',
        `**Severity:** ${spec.severity}`,
        '',
        `**Probable cause:** ${spec.cause}`,
        '',
        `**Remediation:** ${spec.remediation}`,
        '',
      );
    }
  }
  return out.join('\n');
}

function groupAnchor(letter: string): string {
  return `group-${letter.toLowerCase()}`;
}
