import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogLine } from '../../src/cli/logFormat.js';

describe('readable log lines for a terminal', () => {
  it('time, level, part and camera, message, then the other fields', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), part: 'camera', camera: 'door', msg: 'camera offline', retry_ms: 500, reason: 'no frame for 20 s' });
    assert.equal(formatLogLine(line), '03:04:05.678 WARN  camera door: camera offline retry_ms=500 reason="no frame for 20 s"');
  });
  it('errors show their message, not a stack dump', () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' } });
    assert.equal(formatLogLine(line), '00:00:00.000 ERROR failed err="boom"');
  });
  it('passes through what is not JSON', () => {
    assert.equal(formatLogLine('plain text\n'), 'plain text');
  });
});
