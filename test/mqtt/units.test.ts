import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { validateLabel } from '../../src/recognition/labels.js';
import { describeError } from '../../src/mqtt/reconnectLoop.js';
import { buildResponse } from '../../src/commands/response.js';
import { formatErrors, RequestSchemas } from '../../src/commands/schemas.js';
import { classStateTopic, commandOf, discoveryTopic, requestTopic, responseTopic, topicMatches } from '../../src/mqtt/topics.js';

void describe('topics', () => {
  void it('builds the contract topics from the base topic', () => {
    assert.equal(requestTopic('ei', 'class/enroll'), 'ei/request/class/enroll');
    assert.equal(responseTopic('ei', 'classify'), 'ei/response/classify');
    assert.equal(classStateTopic('ei', 'door', 'cat'), 'ei/door/cat');
    assert.equal(discoveryTopic('homeassistant', 'sensor', 'n', 'o'), 'homeassistant/sensor/n/o/config');
    assert.equal(commandOf('ei', 'ei/request/class/enroll/cat'), 'class/enroll/cat');
    assert.equal(commandOf('ei', 'ei/response/classify'), null);
  });

  void it('matches MQTT wildcards', () => {
    assert.ok(topicMatches('a/#', 'a/b/c'));
    assert.ok(topicMatches('a/#', 'a'));
    assert.ok(topicMatches('a/+/c', 'a/b/c'));
    assert.ok(!topicMatches('a/+/c', 'a/b/d'));
    assert.ok(!topicMatches('a/+', 'a/b/c'));
    assert.ok(!topicMatches('a/b', 'a/b/c'));
    assert.ok(topicMatches('homeassistant/status', 'homeassistant/status'));
  });
});

void describe('validateLabel', () => {
  void it('accepts the contract characters, unicode letters included', () => {
    for (const ok of ['cat', 'Cat 2', 'my_dog-1.0', 'Ünïcode', '猫', 'é'.normalize('NFD'), 'x'.repeat(64), 'a']) {
      assert.equal(validateLabel(ok), ok);
    }
  });

  void it('rejects everything else with bad_label naming the field', () => {
    const bad = ['', ' cat', 'cat ', 'a/b', 'a+b', 'a#', '🐱', 'x'.repeat(65), 'unknown', 'NONE', 'status', 'label', 'attributes', 'snapshot'];
    for (const label of bad) {
      assert.throws(() => validateLabel(label), (e: unknown) => e instanceof AppError && e.code === 'bad_label' && /^label: /.test(e.message), label);
    }
    assert.throws(() => validateLabel(3), /label: must be a string/);
    assert.throws(() => validateLabel('none', 'to'), /to: "none" is reserved/);
  });
});

void describe('responses and schemas', () => {
  void it('one function turns results and errors into responses', () => {
    assert.deepEqual(buildResponse({ ok: true, data: [1] }, 'tx'), { status: 'ok', data: [1], transaction: 'tx' });
    assert.deepEqual(buildResponse({ ok: true, data: null }, undefined), { status: 'ok', data: null });
    assert.deepEqual(buildResponse({ ok: false, error: new AppError('busy', 'full') }, 3), {
      status: 'error', error: 'full', code: 'busy', transaction: 3,
    });
    assert.deepEqual(buildResponse({ ok: false, error: new Error('boom') }, undefined), {
      status: 'error', error: 'internal error: boom', code: 'internal',
    });
  });

  void it('lists every schema error with its field', () => {
    const schemas = new RequestSchemas();
    assert.throws(
      () => schemas.validate('camera/detect', { camera: 1, enabled: 'x', extra: true }),
      (e: unknown) => e instanceof AppError && e.code === 'bad_request' &&
        /camera: must be string/.test(e.message) && /enabled: must be boolean/.test(e.message) && /extra: unknown field/.test(e.message),
    );
    assert.equal(formatErrors([]), '');
  });

  void it('explains connection errors without secrets', () => {
    assert.match(describeError(new Error('x'), 134, 'bob'), /credentials of user "bob"/);
    assert.match(describeError(new Error('x'), 5, ''), /anonymous login/);
    assert.match(describeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), undefined, ''), /refused the TCP connection/);
  });
});
