import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSrtPorts, SrtPorts } from '../../src/ingest/srt/srt-ports.js';

describe('parseSrtPorts', () => {
  it('reads FROM-TO, single-port ranges and the range edges', () => {
    assert.deepEqual(parseSrtPorts('9000-9099'), { from: 9000, to: 9099 });
    assert.deepEqual(parseSrtPorts(' 9000 - 9000 '), { from: 9000, to: 9000 });
    assert.deepEqual(parseSrtPorts('1024-2023'), { from: 1024, to: 2023 });
    assert.deepEqual(parseSrtPorts('65000-65535'), { from: 65000, to: 65535 });
  });

  it('refuses malformed text, naming the flag', () => {
    for (const text of [
      '',
      '9000',
      '9000-',
      '-9000',
      '9000:9100',
      'a-b',
      '9000-9100-9200',
      '1e4-2e4',
    ])
      assert.throws(() => parseSrtPorts(text), /--srt-ports must be FROM-TO.*got/, text);
  });

  it('refuses ports outside 1024-65535, reversed ranges and more than 1000 ports', () => {
    assert.throws(() => parseSrtPorts('1023-1100'), /--srt-ports: port 1023 is outside 1024-65535/);
    assert.throws(() => parseSrtPorts('65000-65536'), /--srt-ports: port 65536 is outside/);
    assert.throws(() => parseSrtPorts('0-10'), /--srt-ports: port 0 is outside/);
    assert.throws(
      () => parseSrtPorts('9100-9000'),
      /--srt-ports: FROM \(9100\) is above TO \(9000\)/,
    );
    assert.throws(() => parseSrtPorts('9000-10000'), /--srt-ports: 1001 ports, at most 1000/);
    assert.deepEqual(parseSrtPorts('9000-9999'), { from: 9000, to: 9999 }, '1000 ports are fine');
  });
});

describe('SrtPorts', () => {
  it('takes the lowest free port until the range is used up', () => {
    const ports = new SrtPorts({ from: 9000, to: 9002 });
    assert.equal(ports.size, 3);
    assert.equal(ports.free, 3);
    assert.equal(ports.take(), 9000);
    assert.equal(ports.take(), 9001);
    assert.equal(ports.take(), 9002);
    assert.equal(ports.take(), undefined);
    assert.equal(ports.free, 0);
  });

  it('reuses a released port, lowest first', () => {
    const ports = new SrtPorts({ from: 9000, to: 9003 });
    for (let i = 0; i < 4; i++) ports.take();
    ports.release(9002);
    ports.release(9001);
    assert.equal(ports.free, 2);
    assert.equal(ports.take(), 9001);
    assert.equal(ports.take(), 9002);
    assert.equal(ports.take(), undefined);
  });

  it('ignores releases of ports it did not hand out', () => {
    const ports = new SrtPorts({ from: 9000, to: 9001 });
    assert.equal(ports.take(), 9000);
    ports.release(9001);
    ports.release(8000);
    ports.release(9000);
    ports.release(9000);
    assert.equal(ports.free, 2);
    assert.equal(ports.take(), 9000);
  });
});
