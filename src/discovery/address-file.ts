// The format of a discovery file, parsed without side effects: either one
// "host:port" per line (blank lines and # comments ignored), or a JSON array of
// "host:port" strings. A bad entry is reported with its line (or array index)
// and skipped; only a JSON array that does not parse fails the whole file.

import type { Address } from '../gossip/types.js';
import { dedupeAddresses, parseAddress } from './address.js';

export interface AddressFileIssue {
  /** 1-based line of a bad line; for a JSON array, the line where the element starts. */
  line: number;
  /** 0-based element index, for a JSON array. */
  index?: number;
  /** The offending text, cut to 100 characters. */
  text: string;
  reason: string;
}

export type AddressFileParse =
  | { ok: true; format: 'lines' | 'json'; addresses: Address[]; issues: AddressFileIssue[] }
  | { ok: false; reason: string };

const clip = (s: string): string => (s.length > 100 ? `${s.slice(0, 100)}…` : s);

/** A JSON array opens with "[" followed by a string or "]"; an IPv6 line opens with "[" and a hex digit or ":". */
function looksLikeJsonArray(text: string): boolean {
  return /^\s*\[\s*["\]]/.test(text);
}

function parseJson(text: string): AddressFileParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not a valid JSON array: ${(e as Error).message}` };
  }
  if (!Array.isArray(value)) return { ok: false, reason: 'JSON content must be an array of strings' };
  // Where each top-level element starts, to report a line number like the line format does.
  const lineOfIndex = elementLines(text);
  const addresses: Address[] = [];
  const issues: AddressFileIssue[] = [];
  value.forEach((element: unknown, index) => {
    const line = lineOfIndex[index] ?? 1;
    if (typeof element !== 'string') {
      issues.push({ line, index, text: clip(JSON.stringify(element) ?? String(element)), reason: 'not a string' });
      return;
    }
    const r = parseAddress(element.trim());
    if (r.ok) addresses.push(r.address);
    else issues.push({ line, index, text: clip(element), reason: r.reason });
  });
  return { ok: true, format: 'json', addresses: dedupeAddresses(addresses), issues };
}

/** Line numbers where the elements of a top-level JSON array start (the text already parsed). */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    if (depth === 1 && expectElement && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

function parseLines(text: string): AddressFileParse {
  const addresses: Address[] = [];
  const issues: AddressFileIssue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const content = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (content.length === 0) return;
    const r = parseAddress(content);
    if (r.ok) addresses.push(r.address);
    else issues.push({ line: i + 1, text: clip(content), reason: /\s/.test(content) ? 'one address per line' : r.reason });
  });
  return { ok: true, format: 'lines', addresses: dedupeAddresses(addresses), issues };
}

export function parseAddressFile(text: string): AddressFileParse {
  // A UTF-8 byte order mark, as some editors write, is not part of the first address.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return looksLikeJsonArray(body) ? parseJson(body) : parseLines(body);
}
