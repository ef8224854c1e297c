import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { STATUS_BY_CODE } from '../../src/http/error-mapping.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README's error-code table: code -> status. */
function documented(): Map<string, number> {
  const section = README.slice(README.indexOf('### Error codes'));
  const rows = [...section.matchAll(/^\| `([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)];
  return new Map(rows.map((row) => [row[1] as string, Number(row[2])]));
}

it('documents every error code with the status the server answers it with', () => {
  const table = documented();
  for (const [code, status] of Object.entries(STATUS_BY_CODE)) {
    assert.equal(table.get(code), status, `README: ${code} should be documented as ${status}`);
  }
  for (const code of table.keys()) {
    assert.ok(code in STATUS_BY_CODE, `README documents ${code}, which the server never answers`);
  }
});
