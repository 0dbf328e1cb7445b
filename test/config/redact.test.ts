import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redactUrl, scrubSecrets, urlSecrets } from '../../src/config/redact.js';

void it('hides URL credentials, including an unescaped @ in the password', () => {
  assert.equal(redactUrl('rtsp://admin:pw@10.0.0.2:554/s'), 'rtsp://***:***@10.0.0.2:554/s');
  assert.equal(redactUrl('rtsp://admin:p@ss@cam/s'), 'rtsp://***:***@cam/s');
  assert.equal(redactUrl('open rtsp://u:p@a/1 and http://v:q@b/2 failed'), 'open rtsp://***:***@a/1 and http://***:***@b/2 failed');
  assert.equal(redactUrl('rtsp://cam/stream?user=a'), 'rtsp://cam/stream?user=a');
});

void it('lists the password of a URL, raw and decoded, or a token without user name', () => {
  assert.deepEqual(urlSecrets('rtsp://admin:p%3Ass@cam/s'), ['p%3Ass', 'p:ss']);
  assert.deepEqual(urlSecrets('https://t0ken-abc@cam/s'), ['t0ken-abc', 't0ken-abc']);
  assert.deepEqual(urlSecrets('rtsp://admin:@cam/s'), []);
  assert.deepEqual(urlSecrets('rtsp://cam/s'), []);
});

void it('scrubs every known secret, longest first, but not one- or two-character ones', () => {
  assert.equal(scrubSecrets('password hunter2 and hunter22', ['hunter2', 'hunter22', 'a']), 'password *** and ***');
});
