import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coralDelegate } from '../../src/detector/coralDelegate.js';

describe('the Edge TPU delegate handed to TFLite (coral-tflite-delegate)', () => {
  it('passes detector.device as the delegate option "device"', () => {
    assert.deepEqual(coralDelegate('usb', '', 'linux'), { path: 'libedgetpu.so.1', options: [['device', 'usb']] });
    assert.deepEqual(coralDelegate('pci:0', '', 'linux').options, [['device', 'pci:0']]);
    assert.deepEqual(coralDelegate(':1', '', 'linux').options, [['device', ':1']]);
  });

  it('gives no device option when detector.device is empty (the first Coral found)', () => {
    assert.deepEqual(coralDelegate('', '', 'linux').options, []);
  });

  it("uses the platform's libedgetpu name when no library is configured", () => {
    assert.equal(coralDelegate('', '', 'linux').path, 'libedgetpu.so.1');
    assert.equal(coralDelegate('', '', 'darwin').path, 'libedgetpu.1.dylib');
    assert.equal(coralDelegate('', '', 'win32').path, 'edgetpu.dll');
    assert.throws(() => coralDelegate('', '', 'aix'), /Unknown platform aix/);
  });

  it('uses a configured library path as it is, on any platform', () => {
    const custom = '/opt/coral/lib/libedgetpu.so.1.0';
    assert.deepEqual(coralDelegate('usb:1', custom, 'linux'), { path: custom, options: [['device', 'usb:1']] });
    assert.equal(coralDelegate('', custom, 'darwin').path, custom);
  });
});
