import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Metrics, type CameraStats } from '../../src/web/metrics.js';

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

void it('records inference times in a histogram, in seconds', async () => {
  const metrics = new Metrics({ processMetrics: false });
  for (const ms of [1, 4, 30, 30, 900]) metrics.observeInference(ms);
  metrics.observeInference(Number.NaN);
  metrics.observeInference(-5);
  const text = await metrics.text();
  assert.equal(sample(text, 'edge_imprint_inference_seconds_count'), 5);
  assert.equal(sample(text, 'edge_imprint_inference_seconds_bucket', '{le="0.002"}'), 1);
  assert.equal(sample(text, 'edge_imprint_inference_seconds_bucket', '{le="0.035"}'), 4);
  assert.equal(sample(text, 'edge_imprint_inference_seconds_bucket', '{le="+Inf"}'), 5);
  assert.ok(Math.abs((sample(text, 'edge_imprint_inference_seconds_sum') ?? 0) - 0.965) < 1e-9);
  assert.match(text, /# TYPE edge_imprint_inference_seconds histogram/);
});

void it('counts enrollments, requests and request errors by command, with unknown commands bounded', async () => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.recordEnrollment();
  metrics.recordEnrollment(3);
  metrics.recordEnrollment(0);
  metrics.recordRequest('classify');
  metrics.recordRequestError('classify');
  metrics.recordRequestError('class/enroll/dog');
  for (let i = 0; i < 50; i++) metrics.recordRequestError(`fuzz/${i}`);
  const text = await metrics.text();
  assert.equal(sample(text, 'edge_imprint_enrollments_total'), 4);
  assert.equal(sample(text, 'edge_imprint_requests_total', '{command="classify"}'), 1);
  assert.equal(sample(text, 'edge_imprint_request_errors_total', '{command="classify"}'), 1);
  assert.equal(sample(text, 'edge_imprint_request_errors_total', '{command="class/enroll"}'), 1);
  assert.equal(sample(text, 'edge_imprint_request_errors_total', '{command="other"}'), 50);
  assert.equal(text.split('\n').filter((l) => l.startsWith('edge_imprint_request_errors_total{')).length, 3);
});

void it('reads per-camera figures from the provider at each scrape; removed cameras disappear', async () => {
  const metrics = new Metrics({ processMetrics: false });
  let cameras: Record<string, CameraStats> = {
    door: { camera_fps: 15, process_fps: 2, skipped_fps: 0.5, reconnects: 3, status: 'online' },
    yard: { camera_fps: 0, process_fps: 0, skipped_fps: 0, reconnects: 7, status: 'offline' },
  };
  metrics.setCameraStatsProvider(() => cameras);
  let text = await metrics.text();
  assert.equal(sample(text, 'edge_imprint_camera_fps', '{camera="door"}'), 15);
  assert.equal(sample(text, 'edge_imprint_camera_process_fps', '{camera="door"}'), 2);
  assert.equal(sample(text, 'edge_imprint_camera_skipped_fps', '{camera="door"}'), 0.5);
  assert.equal(sample(text, 'edge_imprint_camera_reconnects', '{camera="yard"}'), 7);
  assert.equal(sample(text, 'edge_imprint_camera_online', '{camera="door"}'), 1);
  assert.equal(sample(text, 'edge_imprint_camera_online', '{camera="yard"}'), 0);
  cameras = { door: { camera_fps: 12, process_fps: 2, skipped_fps: 0, reconnects: 4, status: 'online' } };
  text = await metrics.text();
  assert.equal(sample(text, 'edge_imprint_camera_fps', '{camera="door"}'), 12);
  assert.equal(sample(text, 'edge_imprint_camera_fps', '{camera="yard"}'), undefined);
  metrics.setCameraStatsProvider(() => {
    throw new Error('camera manager stopped');
  });
  text = await metrics.text();
  assert.equal(sample(text, 'edge_imprint_camera_fps', '{camera="door"}'), undefined);
  assert.match(text, /edge_imprint_enrollments_total 0/);
});

void it('keeps two instances apart and adds process metrics on request', async () => {
  const a = new Metrics();
  const b = new Metrics({ processMetrics: false });
  a.recordEnrollment(2);
  assert.equal(sample(await b.text(), 'edge_imprint_enrollments_total'), 0);
  const text = await a.text();
  assert.equal(sample(text, 'edge_imprint_enrollments_total'), 2);
  assert.match(text, /^edge_imprint_process_resident_memory_bytes \d+/m);
  assert.match(a.contentType, /^text\/plain/);
});
