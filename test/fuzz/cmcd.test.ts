import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clientReport } from '../../src/http/cmcd.js';
import { checkProperty, describeRun, preview } from '../helpers/fuzz.js';

const CMCD_HEADERS = ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session'] as const;

/** Characters that matter to CMCD's syntax, mixed with unicode and plain text. */
const cmcdChar = fc.oneof(
  fc.constantFrom('=', ',', '"', '\\', ';', ' ', '-', '.', 'e', '+', '\t', '\n', '\u0000'),
  fc.constantFrom('bl', 'mtp', 'sid', 'br', 'd', 'ot', 'su', 'cid', 'nor', 'rtp', 'v', 'pr'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }),
);
const cmcdText = fc.oneof(
  fc.string({ unit: cmcdChar, maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  // Very long values, far past anything a player sends.
  fc
    .tuple(
      fc.string({ unit: cmcdChar, minLength: 1, maxLength: 40 }),
      fc.integer({ min: 50, max: 400 }),
    )
    .map(([s, n]) => s.repeat(n)),
);

/** Numbers as text, including the ones a decoder must not let through as finite and >= 0. */
const numberText = fc.oneof(
  fc.double().map(String),
  fc.integer().map(String),
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '1e308',
    '1e400',
    '-1',
    '-0',
    '0x10',
    '1_000',
    '',
    '1e-400',
    '9007199254740993',
    '.5',
    '5.',
  ),
);
const cmcdValue = fc.oneof(
  numberText,
  cmcdText.map((s) => `"${s}"`),
  cmcdText,
  fc.constant(''),
);
const cmcdKey = fc.oneof(
  fc.constantFrom('bl', 'mtp', 'sid', 'br', 'd', 'ot', 'su', 'bs', 'cid', 'nor', 'rtp', 'v'),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
/** Key=value lists shaped like CMCD, with some flags (keys without a value) among them. */
const structuredCmcd = fc
  .array(
    fc.oneof(
      fc.tuple(cmcdKey, cmcdValue).map(([k, v]) => `${k}=${v}`),
      cmcdKey,
    ),
    { maxLength: 12 },
  )
  .chain((pairs) => fc.constantFrom(',', ';', ', ', ',,').map((sep) => pairs.join(sep)));

const anyCmcd = fc.oneof(cmcdText, structuredCmcd);

const headerValue = fc.oneof(anyCmcd, fc.array(anyCmcd, { maxLength: 3 }), fc.constant(undefined));
const headers: fc.Arbitrary<IncomingHttpHeaders> = fc.dictionary(
  fc.oneof(fc.constantFrom(...CMCD_HEADERS), fc.constantFrom('cmcd-other', 'x-cmcd', 'host')),
  headerValue,
  { maxKeys: 6 },
) as fc.Arbitrary<IncomingHttpHeaders>;

const query = fc.record(
  {
    session: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant(undefined)),
    CMCD: fc.oneof(anyCmcd, fc.constant(undefined)),
  },
  { requiredKeys: [] },
);

function assertReportInvariants(report: ReturnType<typeof clientReport>, input: unknown): void {
  for (const key of ['bufferLengthMs', 'throughputKbps'] as const) {
    const value = report[key];
    assert.ok(
      value === undefined || (Number.isFinite(value) && value >= 0),
      `${key} is ${value} for ${preview(input)}`,
    );
  }
  assert.ok(
    report.sessionId === undefined || typeof report.sessionId === 'string',
    `sessionId is ${typeof report.sessionId} for ${preview(input)}`,
  );
}

describe('CMCD client reports (fuzz)', () => {
  it('never throws and reports only finite non-negative numbers for any CMCD query and headers', async (t) => {
    const run = await checkProperty(
      fc.property(query, headers, (q, h) => {
        const report = clientReport(q, h);
        assertReportInvariants(report, { q, h });
        if (q.session !== undefined) assert.equal(report.sessionId, q.session);
      }),
      1500,
      6000,
    );
    t.diagnostic(describeRun(run));
  });

  it('never throws for CMCD-* headers alone, whatever their values', async (t) => {
    const run = await checkProperty(
      fc.property(headers, (h) => assertReportInvariants(clientReport({}, h), h)),
      1500,
      4000,
    );
    t.diagnostic(describeRun(run));
  });

  it('decodes well-formed CMCD exactly, from the query or from the headers', async (t) => {
    const sid = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.:/ '.split('')),
      minLength: 1,
      maxLength: 64,
    });
    const run = await checkProperty(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        sid,
        fc.boolean(),
        (bl, mtp, id, viaHeaders) => {
          const report = viaHeaders
            ? clientReport(
                {},
                { 'cmcd-request': `bl=${bl},mtp=${mtp}`, 'cmcd-session': `sid="${id}"` },
              )
            : clientReport({ CMCD: `bl=${bl},mtp=${mtp},sid="${id}"` }, {});
          assert.equal(report.sessionId, id);
          assert.equal(report.bufferLengthMs, bl);
          assert.equal(report.throughputKbps, mtp);
        },
      ),
      500,
      3000,
    );
    t.diagnostic(describeRun(run));
  });

  it('leaves Object.prototype untouched after decoding hostile keys', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      clientReport({ CMCD: `${key}=1,${key}.bl=5,bl=7` }, {});
      clientReport({}, { 'cmcd-request': `${key}="x",bl=3` });
    }
    const probe: Record<string, unknown> = {};
    assert.equal(probe.bl, undefined);
    assert.equal(probe.sid, undefined);
  });
});
