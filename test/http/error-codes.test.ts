import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ERROR_CODES } from '../../src/http/error-codes.js';
import { STATUS_BY_CODE } from '../../src/http/error-mapping.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

interface Row {
  readonly status: number;
  readonly retry: string;
  readonly when: string;
}

/** The README's error-code table: code -> status, retry hint and meaning. */
function documented(): Map<string, Row> {
  const section = README.slice(README.indexOf('### Error codes'));
  const rows = [
    ...section.matchAll(/^\| `([A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*([^|]*?)\s*\|\s*(.*?)\s*\|$/gm),
  ];
  return new Map(
    rows.map((row) => [
      row[1] as string,
      { status: Number(row[2]), retry: row[3] as string, when: row[4] as string },
    ]),
  );
}

/** How the README writes a code's retry hint. */
function retryText(info: (typeof ERROR_CODES)[keyof typeof ERROR_CODES]): string {
  return info.retry === 'after' ? `after ${info.retryAfterSec} s` : info.retry;
}

it('documents every error code with the status the server answers it with', () => {
  const table = documented();
  for (const [code, status] of Object.entries(STATUS_BY_CODE)) {
    assert.equal(table.get(code)?.status, status, `README: ${code} should be ${status}`);
  }
  for (const code of table.keys()) {
    assert.ok(code in STATUS_BY_CODE, `README documents ${code}, which the server never answers`);
  }
});

it('documents each code with the retry hint and the meaning of the one table in the code', () => {
  const table = documented();
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    const row = table.get(code);
    assert.ok(row, `README lacks ${code}`);
    assert.equal(row.retry, retryText(info), `README: retry of ${code}`);
    assert.equal(row.when, info.meaning, `README: meaning of ${code}`);
  }
});

it('gives every 401 a challenge, every 429 and 503 a Retry-After, and only media a retry soon', () => {
  for (const [code, info] of Object.entries(ERROR_CODES) as [
    string,
    (typeof ERROR_CODES)[keyof typeof ERROR_CODES],
  ][]) {
    const challenge = 'challenge' in info ? info.challenge : undefined;
    assert.equal(challenge !== undefined, info.status === 401, `${code}: challenge iff 401`);
    if (info.status === 429 || info.status === 503) {
      assert.equal(info.retry, 'after', `${code}: a limit or a drain says when to come back`);
    }
    if (info.retry === 'soon') assert.equal(info.status, 404, `${code}: only missing media`);
  }
});
