import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, sameSecret } from '../../src/service/secrets.js';

describe('bearer tokens', () => {
  it('reads the token whatever the case of the scheme', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('BEARER abc'), 'abc');
  });

  it('accepts one or more spaces between scheme and token', () => {
    assert.equal(bearerToken('Bearer    abc'), 'abc');
  });

  it('finds no token without the bearer scheme or without a token', () => {
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Basic dXNlcjpwYXNz'), undefined);
    assert.equal(bearerToken('Bearerabc'), undefined);
    assert.equal(bearerToken('Bearer '), undefined);
    assert.equal(bearerToken('abc'), undefined);
  });

  it('compares secrets of different lengths as different', () => {
    assert.equal(sameSecret('abc', 'abc'), true);
    assert.equal(sameSecret('abc', 'abcd'), false);
  });
});
