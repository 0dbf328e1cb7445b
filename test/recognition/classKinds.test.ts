import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classKinds } from '../../src/recognition/classKinds.js';

describe('classKinds: how each class may be matched, from its shots\' sources', () => {
  const kinds = classKinds([
    { label: 'cat', background: false, sources: ['mqtt'] },
    { label: 'bin', background: false, sources: ['camera:door/box'] },
    { label: 'mixed', background: false, sources: ['file:a.jpg', 'camera:door/snapshot'] },
    { label: 'flap_open', background: false, sources: ['camera:door'] },
    { label: 'peer', background: false },
    { label: 'empty', background: true, sources: ['mqtt'] },
  ]);
  const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();

  it('photos and cut-outs are crop classes; live frames, other nodes\' shots and backgrounds are not', () => {
    assert.deepEqual(sorted(kinds.crop), ['bin', 'cat', 'mixed']);
  });

  it('a class with any shot cut out of a camera frame matches cut-outs; the rest of the crop classes match as the camera saw them', () => {
    assert.deepEqual(sorted(kinds.cut), ['bin', 'mixed']);
    assert.deepEqual(sorted(kinds.photo), ['cat']);
  });

  it('the whole frame may match every class by its look but the cut ones', () => {
    assert.deepEqual(sorted(kinds.look), ['cat', 'empty', 'flap_open', 'peer']);
    assert.deepEqual(sorted(kinds.background), ['empty']);
  });
});
