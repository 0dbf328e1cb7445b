import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { configSecrets } from '../../src/config/redact.js';
import { tempDir } from '../helpers/env.js';

const dir = tempDir('edge-imprint-live-config-');
after(() => dir.cleanup());

let count = 0;
function file(text: string): string {
  const path = join(dir.path, `file-${count++}`);
  writeFileSync(path, text);
  return path;
}

void describe('cameras.<name>.live', () => {
  void it('defaults to the camera url (empty live.url), at most 1280x720, 10 fps, quality 75', () => {
    const config = loadConfig({ file: file('cameras:\n  door: { url: rtsp://cam/main }\n'), env: {}, hostname: 'h' });
    assert.deepEqual(config.cameras.door?.live, { url: '', width: 1280, height: 720, fps: 10, quality: 75 });
  });

  void it('takes its own URL from the file, url_file or the environment, credentials kept secret', () => {
    const yaml = 'cameras:\n  door:\n    url: rtsp://cam/main\n    live: { url: "rtsp://u:live-pw-1@cam/sub", width: 640, height: 360, fps: 5, quality: 50 }\n';
    const config = loadConfig({ file: file(yaml), env: {}, hostname: 'h' });
    assert.deepEqual(config.cameras.door?.live, { url: 'rtsp://u:live-pw-1@cam/sub', width: 640, height: 360, fps: 5, quality: 50 });
    assert.ok(configSecrets(config).includes('live-pw-1'), 'hidden from /health and every other page');

    const urlFile = file('rtsp://u:live-pw-2@cam/sub\n');
    const fromFile = loadConfig({ file: file(`cameras:\n  door: { url: rtsp://cam/main, live: { url_file: ${urlFile} } }\n`), env: {}, hostname: 'h' });
    assert.equal(fromFile.cameras.door?.live.url, 'rtsp://u:live-pw-2@cam/sub');
    assert.equal('url_file' in (fromFile.cameras.door?.live ?? {}), false);

    const fromEnv = loadConfig({
      env: { EDGE_IMPRINT_CAMERAS: '{"door": {"url": "rtsp://cam/main"}}', EDGE_IMPRINT_CAMERAS_DOOR_LIVE_URL: 'rtsp://cam/sub', EDGE_IMPRINT_CAMERAS_DOOR_LIVE_FPS: '4' },
      hostname: 'h',
    });
    assert.equal(fromEnv.cameras.door?.url, 'rtsp://cam/main');
    assert.equal(fromEnv.cameras.door?.live.url, 'rtsp://cam/sub');
    assert.equal(fromEnv.cameras.door?.live.fps, 4);
  });

  void it('names the field of every bad value and never prints the live password', () => {
    const urlFile = file('rtsp://cam/sub');
    const errors = validateConfig({
      file: file(
        [
          'cameras:',
          '  door:',
          '    url: rtsp://cam/main',
          '    live: { url: "rtsp://u:live-pw-3@cam/sub", width: 8000, fps: 0, quality: best, colour: red }',
          '  yard:',
          `    url: rtsp://cam/yard`,
          `    live: { url: "rtsp://u:live-pw-4@cam/sub", url_file: ${urlFile} }`,
          '  gate:',
          '    url: rtsp://cam/gate',
          '    live: { url_file: /nonexistent/live-url }',
          '  porch:',
          '    url: rtsp://cam/porch',
          '    live: { url: [ "rtsp://u:live-pw-5@cam/sub" ] }',
        ].join('\n'),
      ),
      env: {},
      hostname: 'h',
    });
    const text = errors.join('\n');
    assert.match(text, /cameras\.door\.live\.width: must be from 16 to 4095/);
    assert.match(text, /cameras\.door\.live\.fps: must be from 1 to 30/);
    assert.match(text, /cameras\.door\.live\.quality: /);
    assert.match(text, /cameras\.door\.live\.colour: unknown key/);
    assert.match(text, /cameras\.yard\.live\.url_file: set either live\.url or live\.url_file, not both/);
    assert.match(text, /cameras\.gate\.live\.url_file: cannot read the file \(ENOENT\)/);
    assert.match(text, /cameras\.porch\.live\.url: /);
    assert.equal(/live-pw-[345]/.test(text), false, text);
  });
});
