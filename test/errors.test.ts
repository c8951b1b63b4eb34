// The error registry: well-formed codes and entries, docs/errors.md generated
// from it (and checked in up to date), `weft explain`, JSON error logs that
// never carry secrets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, WeftError, type ErrorSpec } from '../src/errors.js';
import { renderErrorsDoc, REGENERATE_COMMAND } from '../src/errors-doc.js';
import { explainText, runExplainCommand, logError, errorLogRecord, redact, REDACTED } from '../src/errors-explain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SEVERITIES = new Set(['fatal', 'error', 'warning', 'info']);

describe('error registry', () => {
  test('every code matches WEFT-<letter><3 digits> and has a severity, title, cause and remediation', () => {
    const entries = Object.entries(ERRORS as Record<string, ErrorSpec>);
    assert.ok(entries.length > 0);
    for (const [code, spec] of entries) {
      assert.match(code, /^WEFT-[A-Z]\d{3}$/, `${code}: code format`);
      assert.ok(SEVERITIES.has(spec.severity), `${code}: severity ${spec.severity}`);
      for (const field of ['title', 'cause', 'remediation'] as const) {
        assert.equal(typeof spec[field], 'string', `${code}.${field}`);
        assert.ok(spec[field].trim().length > 0, `${code}.${field} is empty`);
      }
    }
  });

  test('docs/errors.md is the generator output for the current registry', () => {
    const checkedIn = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    assert.ok(
      checkedIn === renderErrorsDoc(),
      `docs/errors.md is out of date with src/errors.ts: regenerate it with \`${REGENERATE_COMMAND}\` and commit the result`,
    );
  });

  test('the generated page lists every code under its prefix with all fields', () => {
    const doc = renderErrorsDoc();
    for (const [code, spec] of Object.entries(ERRORS as Record<string, ErrorSpec>)) {
      assert.ok(doc.includes(`<a id="${code.toLowerCase()}"></a>`), `${code} anchor`);
      assert.ok(doc.includes(`### ${code} — ${spec.title}`));
      assert.ok(doc.includes(`**Probable cause:** ${spec.cause}`));
      assert.ok(doc.includes(`**Remediation:** ${spec.remediation}`));
    }
    assert.ok(doc.indexOf('## Kernels (WEFT-K…)') < doc.indexOf('## Sync (WEFT-S…)'));
    // A registry with an unknown prefix and a pipe in a title still renders a valid table row.
    const extra = renderErrorsDoc({ 'WEFT-Z001': { severity: 'info', title: 'a | b', cause: 'c', remediation: 'r' } });
    assert.ok(extra.includes('## WEFT-Z (WEFT-Z…)'));
    assert.ok(extra.includes('| [WEFT-Z001](#weft-z001) | info | a \\| b |'));
  });
});

describe('weft explain', () => {
  test('prints code, severity, cause and remediation; accepts lower case and the short form', () => {
    const text = explainText('WEFT-S001');
    assert.match(text, /^WEFT-S001 — sync events dropped\nSeverity: warning\n/);
    assert.ok(text.includes(ERRORS['WEFT-S001'].cause));
    assert.ok(text.includes(ERRORS['WEFT-S001'].remediation));
    assert.ok(text.includes('docs/errors.md#weft-s001'));
    assert.equal(explainText('weft-k002'), explainText('WEFT-K002'));
    assert.equal(explainText('K002'), explainText('WEFT-K002'));
  });

  test('an unknown code says so and suggests codes with the same prefix', () => {
    assert.match(explainText('WEFT-S999'), /is not a weft error code.*WEFT-S001/s);
    assert.match(explainText('nonsense'), /Codes look like WEFT-K001/);
    const out: string[] = [];
    assert.equal(runExplainCommand(['WEFT-K001', 'WEFT-Q123'], (s) => out.push(s)), 1);
    assert.ok(out.join('').includes('kernel could not be loaded'));
    assert.equal(runExplainCommand(['WEFT-K001'], () => undefined), 0);
    assert.equal(runExplainCommand([], () => undefined), 2);
  });
});

describe('structured error logs', () => {
  test('one JSON line with code, severity, message, cause, remediation and context', () => {
    const lines: string[] = [];
    logError(new WeftError('WEFT-S006', 'disk full', { file: '/var/lib/weft/events.yaml' }), { sink: 'file' }, (s) => lines.push(s));
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('\n') && !lines[0]!.slice(0, -1).includes('\n'));
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.code, 'WEFT-S006');
    assert.equal(rec.severity, 'error');
    assert.equal(rec.message, 'WEFT-S006 sync file write failed: disk full');
    assert.equal(rec.cause, ERRORS['WEFT-S006'].cause);
    assert.equal(rec.remediation, ERRORS['WEFT-S006'].remediation);
    assert.deepEqual(rec.context, { sink: 'file' });
    assert.deepEqual(rec.details, { file: '/var/lib/weft/events.yaml' });
    assert.ok(!Number.isNaN(Date.parse(rec.time as string)));
  });

  test('secret-named keys are redacted at any depth, in context and details; cycles do not throw', () => {
    const ctx: Record<string, unknown> = {
      peer: '10.0.0.2',
      psk: 'hunter2',
      clusterSecret: 's3cr3t',
      nested: { authToken: 'abc', apiKey: 'k', password: 'p', list: [{ privateKey: 'x', ok: 1 }] },
    };
    ctx.self = ctx;
    const rec = errorLogRecord(new WeftError('WEFT-K002', undefined, { token: 't', peer: 'peer-2' }), ctx);
    const text = JSON.stringify(rec);
    for (const secret of ['hunter2', 's3cr3t', '"abc"', '"k"', '"p"', '"x"', '"t"']) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.deepEqual(rec.context, {
      peer: '10.0.0.2',
      psk: REDACTED,
      clusterSecret: REDACTED,
      nested: { authToken: REDACTED, apiKey: REDACTED, password: REDACTED, list: [{ privateKey: REDACTED, ok: 1 }] },
      self: '[circular]',
    });
    assert.deepEqual(rec.details, { token: REDACTED, peer: 'peer-2' });
    assert.deepEqual(redact({ n: 1n, buf: new Uint8Array(4) }), { n: '1', buf: '[4 bytes]' });
  });

  test('a plain Error logs with severity error and no code', () => {
    const rec = errorLogRecord(Object.assign(new Error('boom'), { code: 'ECONNRESET' }), {});
    assert.equal(rec.code, undefined);
    assert.equal(rec.severity, 'error');
    assert.equal(rec.message, 'boom');
    assert.deepEqual(rec.details, { name: 'Error', code: 'ECONNRESET' });
  });
});
