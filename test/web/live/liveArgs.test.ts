import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fitWithin, fpsCap, liveInput, liveOutputOptions, liveUrl, mpeg1Rate, type LiveConfig } from '../../../src/web/live/liveArgs.js';
import { cameraConfig } from '../../camera/fixtures.js';

const LIVE: LiveConfig = { url: '', width: 1280, height: 720, fps: 10, quality: 75 };

interface Encoded {
  codec: string;
  width: number;
  height: number;
  frames: number;
  /** Picture types in decoding order, e.g. IPPPP...; */
  types: string;
}

/** Encodes a test pattern with the live view's output options, as the muxer runs them, and probes the result. */
function encode(source: { width: number; height: number; fps: number; seconds: number }, live: LiveConfig = LIVE): Encoded {
  const options = Object.entries(liveOutputOptions(live)).flatMap(([k, v]) => (v === '' ? [k] : [k, v]));
  const input = `testsrc2=size=${source.width}x${source.height}:rate=${source.fps}`;
  const ts = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', input, '-t', String(source.seconds), '-f', 'mpegts', '-codec:v', 'mpeg1video', ...options, '-'],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
  );
  assert.equal(ts.status, 0, ts.stderr.toString());
  const probe = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height:frame=pict_type', '-of', 'json', '-'],
    { input: ts.stdout, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const parsed = JSON.parse(probe.stdout.toString()) as { streams: Record<string, string | number>[]; frames: { pict_type: string }[] };
  const stream = parsed.streams[0] ?? {};
  return {
    codec: String(stream.codec_name),
    width: Number(stream.width),
    height: Number(stream.height),
    frames: parsed.frames.length,
    types: parsed.frames.map((f) => f.pict_type).join(''),
  };
}

void describe('live view ffmpeg options', () => {
  void it('MPEG-1 without B-frames, scaled down to fit 1280x720 with the aspect ratio kept, never up', () => {
    const hd = encode({ width: 1920, height: 1080, fps: 10, seconds: 2 });
    assert.deepEqual([hd.codec, hd.width, hd.height], ['mpeg1video', 1280, 720]);
    assert.equal(hd.types, `I${'P'.repeat(9)}I${'P'.repeat(9)}`, 'no B-frames; a keyframe every second (10 frames)');
    const portrait = encode({ width: 1080, height: 1920, fps: 10, seconds: 1 });
    assert.deepEqual([portrait.width, portrait.height], [404, 720]);
    const small = encode({ width: 640, height: 480, fps: 10, seconds: 1 });
    assert.deepEqual([small.width, small.height], [640, 480]);
    const custom = encode({ width: 1920, height: 1080, fps: 10, seconds: 1 }, { ...LIVE, width: 640, height: 640 });
    assert.deepEqual([custom.width, custom.height], [640, 360]);
  });

  void it('caps the frame rate at live.fps, and never pads a slower camera', () => {
    const fast = encode({ width: 320, height: 240, fps: 25, seconds: 6 });
    assert.ok(fast.frames >= 58 && fast.frames <= 62, `25 fps capped to 10: ${fast.frames} frames in 6 s`);
    const exact = encode({ width: 320, height: 240, fps: 10, seconds: 6 });
    assert.equal(exact.frames, 60, 'a 10 fps camera keeps every frame');
    const slow = encode({ width: 320, height: 240, fps: 4, seconds: 6 });
    assert.equal(slow.frames, 24, 'a 4 fps camera is not padded to 10');
  });

  void it('declares a frame rate MPEG-1 allows; quality maps to qscale; a GOP of about a second', () => {
    assert.deepEqual([1, 10, 24, 24.5, 25, 29.97, 30].map(mpeg1Rate), ['24', '24', '24', '25', '25', '30', '30']);
    const options = liveOutputOptions({ ...LIVE, fps: 15, quality: 100 });
    assert.equal(options['-q:v'], '2');
    assert.equal(options['-g'], '15');
    assert.equal(liveOutputOptions({ ...LIVE, quality: 1 })['-q:v'], '31');
    assert.match(fpsCap(10), /^select=/);
    assert.match(fitWithin(1280, 720), /min\(1280,iw\).*min\(720,ih\).*force_original_aspect_ratio=decrease/);
  });
});

void describe('live view input', () => {
  void it('uses live.url when set, else the camera url, with the camera\'s input handling', () => {
    const camera = cameraConfig({ url: 'rtsp://cam/main', decode: 'keyframes', transport: 'udp', input_args: ['-rtsp_flags', 'prefer_tcp'], hwaccel_args: ['-hwaccel', 'auto'] });
    assert.equal(liveUrl(camera), 'rtsp://cam/main');
    const sub = { ...camera, live: { ...LIVE, url: 'rtsp://cam/sub' } };
    assert.equal(liveUrl(sub), 'rtsp://cam/sub');
    const input = liveInput(sub);
    assert.equal(input.url, 'rtsp://cam/sub');
    assert.deepEqual(input.args.slice(0, 4), ['-hide_banner', '-nostdin', '-loglevel', 'warning']);
    assert.ok(input.args.join(' ').includes('-hwaccel auto'));
    assert.ok(input.args.join(' ').includes('-rtsp_transport udp'));
    assert.ok(input.args.join(' ').endsWith('-rtsp_flags prefer_tcp'));
    assert.equal(input.args.includes('-skip_frame'), false, 'the live view decodes every frame');
    assert.equal(input.args.includes('-i'), false, 'the muxer adds -i itself');
    assert.equal(liveInput(cameraConfig({ url: 'file:///clips/demo.mp4' })).url, '/clips/demo.mp4');
  });
});
