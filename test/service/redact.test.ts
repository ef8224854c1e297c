import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, redactDetail, redactSecrets } from '../../src/service/redact.js';

describe('secret redaction', () => {
  it('masks the credentials of a URL but keeps scheme, host and path', () => {
    assert.equal(
      redactSecrets('http://user:secretpass@127.0.0.1:9/x.ts: Connection refused'),
      'http://***@127.0.0.1:9/x.ts: Connection refused',
    );
    assert.equal(redactSecrets('rtsp://admin@cam/live'), 'rtsp://***@cam/live');
    assert.equal(redactSecrets('srt://u:p@ss@host:9000?x=1'), 'srt://***@host:9000?x=1');
  });

  it('masks the values of key, token and session query parameters wherever they appear', () => {
    assert.equal(
      redactSecrets('PUT /ingest/a/Low/seg_1.ts?key=k3y&x=1'),
      `PUT /ingest/a/Low/seg_1.ts?key=${REDACTED}&x=1`,
    );
    assert.equal(
      redactSecrets('/live/a/master.m3u8?session=s-abc&token=eyJ.x.y#t'),
      `/live/a/master.m3u8?session=${REDACTED}&token=${REDACTED}#t`,
    );
    assert.equal(redactSecrets('GET /x?KEY=abc done'), `GET /x?KEY=${REDACTED} done`);
  });

  it('leaves parameters that merely end in a secret name alone', () => {
    assert.equal(redactSecrets('/x?monkey=1&tokens=2'), '/x?monkey=1&tokens=2');
  });

  it('masks the session id a player sends in CMCD, in a query or a header', () => {
    const query = `/live/l/Low/3.ts?CMCD=${encodeURIComponent('bl=4500,sid="vs-SECRETSESSION0000000"')}`;
    assert.doesNotMatch(redactSecrets(query), /SECRETSESSION/);
    assert.match(redactSecrets(query), /bl%3D4500/);
    assert.equal(redactSecrets('sid="vs-abc",ot=v'), `sid="${REDACTED}",ot=v`);
  });

  it('masks bearer tokens whatever the case of the scheme', () => {
    assert.equal(
      redactSecrets('Authorization: bearer abc.def'),
      `Authorization: bearer ${REDACTED}`,
    );
  });

  it('masks every occurrence of a known secret, raw or percent-encoded', () => {
    const key = 'publish key/0123456789';
    const text = `key ${key} and ${encodeURIComponent(key)} again ${key}`;
    const out = redactSecrets(text, [key, undefined]);
    assert.ok(!out.includes(key) && !out.includes(encodeURIComponent(key)), out);
    assert.equal(out.split(REDACTED).length, 4);
  });

  it('does not blot out ordinary text with a known secret too short to be one', () => {
    assert.equal(redactSecrets('a cat', ['a']), 'a cat');
  });

  it('redacts every string in nested event details and keeps other values', () => {
    const detail = redactDetail(
      { jobId: 'enc-1', code: 1, error: 'open http://u:pw@h/x failed', list: ['?key=abc'] },
      [],
    );
    assert.deepEqual(detail, {
      jobId: 'enc-1',
      code: 1,
      error: 'open http://***@h/x failed',
      list: [`?key=${REDACTED}`],
    });
  });
});
