import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { firstKeyframePacket, isKeyframePacket, TS_PACKET_BYTES, TsAligner } from '../../../src/web/live/tsPackets.js';

/** 3 s of MPEG-1 in MPEG-TS at 10 fps with a keyframe every 10 frames, from ffmpeg itself. */
function mpegTs(): Buffer {
  const out = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-t', '3',
      '-f', 'mpegts', '-codec:v', 'mpeg1video', '-r', '24', '-fps_mode', 'vfr', '-bf', '0', '-g', '10', '-q:v', '8', '-'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(out.status, 0, out.stderr.toString());
  return out.stdout;
}

const stream = mpegTs();

void describe('TsAligner', () => {
  void it('turns chunks cut anywhere back into whole packets, losing nothing', () => {
    const aligner = new TsAligner();
    const out: Buffer[] = [];
    for (let at = 0, size = 1; at < stream.length; at += size, size = (size * 7 + 13) % 5000 + 1) {
      const packets = aligner.push(stream.subarray(at, at + size));
      assert.equal(packets.length % TS_PACKET_BYTES, 0);
      out.push(packets);
    }
    assert.ok(stream.length % TS_PACKET_BYTES === 0);
    assert.deepEqual(Buffer.concat(out), stream);
    assert.equal(aligner.skipped, 0);
  });

  void it('skips bytes before a sync byte and counts them', () => {
    const aligner = new TsAligner();
    const packets = aligner.push(Buffer.concat([Buffer.from([1, 2, 3]), stream.subarray(0, 2 * TS_PACKET_BYTES)]));
    assert.deepEqual(packets, stream.subarray(0, 2 * TS_PACKET_BYTES));
    assert.equal(aligner.skipped, 3);
  });
});

void describe('keyframe packets', () => {
  void it('finds the start of every GOP and nothing else', () => {
    let keyframes = 0;
    for (let at = 0; at < stream.length; at += TS_PACKET_BYTES) {
      if (isKeyframePacket(stream.subarray(at, at + TS_PACKET_BYTES))) keyframes += 1;
    }
    assert.equal(keyframes, 3, 'one per second of a 3 s stream with a 1 s GOP');
    const first = firstKeyframePacket(stream);
    assert.ok(first >= 0 && first % TS_PACKET_BYTES === 0);
    assert.ok(stream.subarray(first, first + TS_PACKET_BYTES).includes(Buffer.from([0, 0, 1, 0xb3])));
    // The first packets are PAT and PMT, not video.
    assert.ok(first > 0);
    const afterFirst = first + TS_PACKET_BYTES;
    const second = firstKeyframePacket(stream.subarray(afterFirst));
    assert.ok(second > 0, 'the next GOP');
    assert.equal(firstKeyframePacket(stream.subarray(afterFirst, afterFirst + second)), -1, 'no keyframe between two GOP starts');
  });
});
