import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeResponseTopic } from '../../src/mqtt/requests.js';

describe('MQTT v5 response_topic is never one of the agent\'s own topics', () => {
  const cases: Array<[string, boolean]> = [
    ['client/42/reply', true],
    ['edge-imprint/response/classify', true],
    ['edge-imprint/response/mine/1', true],
    ['edge-imprint/available', false],
    ['edge-imprint/door/cat', false],
    ['edge-imprint/state', false],
    ['edge-imprint', false],
    ['homeassistant/binary_sensor/x/config', false],
    ['homeassistant', false],
    ['reply/+/x', false],
    ['reply/#', false],
    ['', false],
    ['edge-imprinter/other', true],
  ];
  for (const [topic, ok] of cases) {
    it(`${JSON.stringify(topic)} → ${ok ? 'allowed' : 'refused'}`, () => {
      assert.equal(safeResponseTopic(topic, 'edge-imprint', 'homeassistant'), ok);
    });
  }
});
