import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  buildFfmpegPlan,
  inputArgs,
  inputKind,
  jpegQscale,
  redactUrl,
  outsideFrame,
  roiCrop,
  sourceSizeFromStderr,
} from '../../src/camera/ffmpegArgs.js';
import { image } from '../helpers/env.js';
import { cameraConfig, INPUT_SIZE } from './fixtures.js';

function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

void test('input kinds are recognised from the url', () => {
  assert.equal(inputKind('rtsp://cam/stream'), 'rtsp');
  assert.equal(inputKind('RTSPS://cam/stream'), 'rtsps');
  assert.equal(inputKind('http://cam/mjpeg'), 'http');
  assert.equal(inputKind('https://cam/mjpeg'), 'http');
  assert.equal(inputKind('/dev/video0'), 'v4l2');
  assert.equal(inputKind('/videos/demo.mp4'), 'file');
  assert.equal(inputKind('file:///videos/demo.mp4'), 'file');
});

void test('rtsp uses the configured transport, tcp by default', () => {
  assert.equal(after(inputArgs(cameraConfig()), '-rtsp_transport'), 'tcp');
  assert.equal(after(inputArgs(cameraConfig({ transport: 'udp' })), '-rtsp_transport'), 'udp');
  // rtsps cannot run over UDP
  assert.equal(after(inputArgs(cameraConfig({ url: 'rtsps://h/x', transport: 'udp' })), '-rtsp_transport'), 'tcp');
});

void test('files loop at native speed; v4l2 devices get -f v4l2; http has no rtsp options', () => {
  const file = inputArgs(cameraConfig({ url: 'file:///a/b.mp4' }));
  assert.equal(after(file, '-stream_loop'), '-1');
  assert.ok(file.includes('-re'));
  assert.equal(after(file, '-i'), '/a/b.mp4');
  const v4l2 = inputArgs(cameraConfig({ url: '/dev/video2' }));
  assert.equal(after(v4l2, '-f'), 'v4l2');
  assert.equal(after(v4l2, '-i'), '/dev/video2');
  const http = inputArgs(cameraConfig({ url: 'http://cam/video.mjpg' }));
  assert.equal(http.includes('-rtsp_transport'), false);
  assert.equal(after(http, '-i'), 'http://cam/video.mjpg');
});

void test('keyframes decoding, input args and hwaccel args come before -i, in order', () => {
  const plan = buildFfmpegPlan(
    cameraConfig({ decode: 'keyframes', input_args: ['-analyzeduration', '1000000'], hwaccel_args: ['-hwaccel', 'vaapi'] }),
    { inputSize: INPUT_SIZE },
  );
  const i = plan.args.indexOf('-i');
  assert.equal(after(plan.args, '-skip_frame'), 'nokey');
  assert.ok(plan.args.indexOf('-skip_frame') < i);
  assert.ok(plan.args.indexOf('-hwaccel') < i);
  assert.ok(plan.args.indexOf('-analyzeduration') < i && plan.args.indexOf('-analyzeduration') > plan.args.indexOf('-rtsp_transport'));
  assert.equal(buildFfmpegPlan(cameraConfig(), { inputSize: INPUT_SIZE }).args.includes('-skip_frame'), false);
});

void test('raw output: fps, ROI crop, scale to the input size, rgb24 on stdout; snapshots on fd 3', () => {
  const plan = buildFfmpegPlan(
    cameraConfig({ fps: 2.5, roi: { x: 100, y: 50, width: 640, height: 480 }, snapshot: { enabled: true, quality: 70, width: 800 } }),
    { inputSize: INPUT_SIZE },
  );
  assert.equal(plan.frameBytes, 224 * 224 * 3);
  assert.equal(plan.snapshots, true);
  const graph = after(plan.args, '-filter_complex') ?? '';
  assert.match(graph, /^\[0:v\]fps=2\.5,split=2/);
  assert.match(graph, /crop=w=max\(2\\,min\(640\\,iw-min\(100\\,iw-2\)\)\):h=max\(2\\,min\(480\\,ih-min\(50\\,ih-2\)\)\):x=min\(100\\,iw-2\):y=min\(50\\,ih-2\),scale=224:224/);
  // Same rate as detection: no second fps filter, every raw frame has its JPEG.
  assert.match(graph, /\[s\]scale=800:-2/);
  assert.equal(plan.pairedSnapshots, true);
  const fast = buildFfmpegPlan(cameraConfig({ fps: 15 }), { inputSize: INPUT_SIZE });
  assert.match(after(fast.args, '-filter_complex') ?? '', /\[s\]fps=5,scale=640:-2/);
  assert.equal(fast.pairedSnapshots, false);
  assert.ok(graph.indexOf('crop') < graph.indexOf('scale=224'));
  const tail = plan.args.slice(plan.args.indexOf('[det]'));
  assert.deepEqual(tail.slice(tail.indexOf('-f'), tail.indexOf('-f') + 4), ['-f', 'rawvideo', '-pix_fmt', 'rgb24']);
  assert.ok(tail.includes('pipe:1'));
  assert.equal(plan.args.at(-1), 'pipe:3');
  assert.equal(after(plan.args, '-q:v'), String(jpegQscale(70)));
});

void test('snapshots disabled: a single output and no split', () => {
  const plan = buildFfmpegPlan(cameraConfig({ snapshot: { enabled: false, quality: 80, width: 640 } }), { inputSize: INPUT_SIZE });
  assert.equal(plan.snapshots, false);
  assert.equal(plan.args.includes('pipe:3'), false);
  assert.doesNotMatch(after(plan.args, '-filter_complex') ?? '', /split/);
  assert.equal(plan.args.at(-1), 'pipe:1');
});

void test('fractional ROI is relative to the frame; JPEG quality maps onto qscale', () => {
  assert.equal(roiCrop(null), '');
  assert.match(roiCrop({ x: 0.5, y: 0, width: 0.5, height: 1 }), /w=max\(2\\,min\(iw\*0\.5\\,iw-min\(iw\*0\.5\\,iw-2\)\)\)/);
  assert.equal(jpegQscale(100), 2);
  assert.equal(jpegQscale(1), 31);
  assert.ok(jpegQscale(80) < jpegQscale(50));
});

void test('zones: one crop per zone, stacked into one raw frame in config order; the camera roi is not used', () => {
  const zones = {
    bin: { roi: { x: 0, y: 0.5, width: 0.25, height: 0.5 }, classes: [] },
    door: { roi: { x: 600, y: 0, width: 300, height: 400 }, classes: [] },
  };
  const plan = buildFfmpegPlan(cameraConfig({ zones }), { inputSize: INPUT_SIZE });
  assert.deepEqual(plan.units.map((u) => u.zone), ['bin', 'door']);
  assert.equal(plan.frameBytes, 2 * 224 * 224 * 3);
  const graph = after(plan.args, '-filter_complex') ?? '';
  assert.match(graph, /^\[0:v\]fps=5,split=3\[u0\]\[u1\]\[s\]/);
  assert.match(graph, /\[u0\]crop=.*iw\*0\.25.*scale=224:224:flags=area,format=rgb24\[c0\]/);
  assert.match(graph, /\[c0\]\[c1\]vstack=inputs=2\[det\]/);
  // Pixel zones and boxes are read in the stream's size, which ffmpeg names at `info`: on every camera.
  assert.equal(after(plan.args, '-loglevel'), 'info');
  const fractional = buildFfmpegPlan(cameraConfig({ zones: { bin: zones.bin } }), { inputSize: INPUT_SIZE });
  assert.equal(after(fractional.args, '-loglevel'), 'info');
  assert.match(after(fractional.args, '-filter_complex') ?? '', /\[c0\]null\[det\]/);
  const plain = buildFfmpegPlan(cameraConfig(), { inputSize: INPUT_SIZE });
  assert.deepEqual(plain.units, [{ zone: null, roi: null }]);
});

void test('the source size is read from ffmpeg\'s stream line; pixel regions are checked against it', () => {
  const line = '  Stream #0:0: Video: h264 (Main), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 10 fps, 10 tbr, 90k tbn';
  assert.deepEqual(sourceSizeFromStderr(line), { width: 1280, height: 720 });
  assert.equal(sourceSizeFromStderr('Input #0, rtsp, from \'rtsp://***:***@cam/s\':'), null);
  assert.equal(outsideFrame({ x: 600, y: 0, width: 300, height: 400 }, { width: 1280, height: 720 }), null);
  assert.match(outsideFrame({ x: 1200, y: 0, width: 300, height: 400 }, { width: 1280, height: 720 }) ?? '', /outside the 1280x720 frame/);
  assert.equal(outsideFrame({ x: 0.9, y: 0, width: 0.1, height: 1 }, { width: 10, height: 10 }), null);
});

void test('redactUrl scrubs credentials, including passwords containing @ and query secrets', () => {
  assert.equal(redactUrl('rtsp://admin:s3cret@10.0.0.2:554/s'), 'rtsp://***:***@10.0.0.2:554/s');
  assert.equal(redactUrl('rtsp://admin:p@ss@cam/s'), 'rtsp://***:***@cam/s');
  assert.equal(redactUrl('[rtsp @ 0x55] rtsp://u:pw@h/x: 401 Unauthorized'), '[rtsp @ 0x55] rtsp://***:***@h/x: 401 Unauthorized');
  assert.equal(redactUrl('http://cam/video.cgi?user=a&password=hunter2&x=1'), 'http://cam/video.cgi?user=a&password=***&x=1');
  assert.equal(redactUrl('rtsp://cam:554/s'), 'rtsp://cam:554/s');
  const text = redactUrl('rtsps://me:topsecret@h/a and http://x:y@z/b');
  assert.equal(text.includes('topsecret') || text.includes(':y@'), false);
});

void test('the built arguments run in a real ffmpeg: ROI + scale yield exact frames', () => {
  const cfg = cameraConfig({
    url: image('cat_720p.jpg'),
    fps: 1,
    input_args: ['-loop', '1', '-framerate', '5', '-t', '3'],
    roi: { x: 0, y: 0, width: 0.5, height: 0.5 },
    snapshot: { enabled: false, quality: 80, width: 640 },
  });
  // A still photo shown for 3 s instead of a looping video: drop the file loop flags.
  const plan = buildFfmpegPlan(cfg, { inputSize: INPUT_SIZE });
  const args = plan.args.filter((a, i, all) => a !== '-re' && a !== '-stream_loop' && all[i - 1] !== '-stream_loop');
  const result = spawnSync('ffmpeg', args, { maxBuffer: 1 << 24 });
  assert.equal(result.status, 0, result.stderr.toString());
  assert.equal(result.stdout.length % plan.frameBytes, 0);
  assert.ok(result.stdout.length >= 2 * plan.frameBytes, `got ${result.stdout.length} bytes`);
});
