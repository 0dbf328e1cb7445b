import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, defaultCameraConfig, loadConfig, validateConfig } from '../../src/config/load.js';
import { AppError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';

let dir: { path: string; cleanup: () => void };
before(() => {
  dir = tempDir('edge-imprint-config-');
});
after(() => dir.cleanup());

let fileCount = 0;
function yamlFile(text: string): string {
  const file = join(dir.path, `config-${fileCount++}.yaml`);
  writeFileSync(file, text);
  return file;
}

function errorsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return validateConfig({ file: yamlFile(text), env, hostname: 'test' });
}

void describe('defaults', () => {
  void it('an empty configuration is valid and gives the documented defaults', () => {
    const config = loadConfig({ env: {}, hostname: 'Garage-Pi.local' });
    assert.equal(config.node_id, 'garage_pi_local');
    assert.deepEqual(config.mqtt, {
      url: '',
      username: '',
      password: '',
      base_topic: 'edge-imprint',
      client_id: 'edge-imprint-garage_pi_local',
      tls: { ca: '', cert: '', key: '' },
      discovery: { enabled: true, prefix: 'homeassistant' },
      stats_interval: 60,
      clean_session: false,
      protocol_version: 5,
      embedded: { enabled: 'auto', host: '127.0.0.1', port: 1883 },
    });
    assert.equal(config.detector.type, 'auto');
    assert.equal(config.detector.edgetpu_library, '', 'empty: the platform\'s name, from coral-tflite-delegate');
    assert.equal(config.detector.inference_timeout_ms, 5000);
    assert.equal(config.detector.threads, 2);
    assert.deepEqual(config.classifier, {
      threshold: 0.4, margin: 0.005, zone_threshold: 0.45, fine_tune: true, vote: { window: 5, min_hits: 3 }, off_delay_s: 10,
    });
    assert.deepEqual(config.events, { max_count: 500, max_age_days: 30 });
    assert.deepEqual(config.limits, { max_payload_bytes: 8 * 1024 * 1024, max_megapixels: 40, queue_size: 16, request_timeout_s: 30 });
    assert.deepEqual(config.http, {
      enabled: true,
      host: '127.0.0.1',
      port: 8089,
      base_path: '',
      public_url: '',
      auth: { password: '', token: '', metrics: false, trusted_proxies: [], session_hours: 168 },
    });
    assert.equal('password_file' in config.http.auth, false);
    assert.equal(config.data_dir, './data');
    assert.equal(config.model_dir, './models');
    assert.equal(config.log.level, 'info');
    assert.equal(config.log.format, 'auto');
    assert.deepEqual(config.cameras, {});
    assert.equal('password_file' in config.mqtt, false);
  });

  void it('an empty file and a file of empty sections are valid too', () => {
    assert.deepEqual(errorsOf(''), []);
    assert.deepEqual(errorsOf('mqtt:\ndetector:\ncameras:\n'), []);
  });

  void it('fills every per-camera default', () => {
    const config = loadConfig({ file: yamlFile('cameras:\n  door:\n    url: rtsp://cam/1\n'), env: {}, hostname: 'h' });
    assert.deepEqual(config.cameras.door, {
      url: 'rtsp://cam/1',
      transport: 'tcp',
      fps: 2,
      roi: null,
      motion: { enabled: false, threshold: 0.02, max_skip_s: 5 },
      snapshot: { enabled: true, quality: 80, width: 640 },
      live: { url: '', width: 1280, height: 720, fps: 10, quality: 75 },
      decode: 'all',
      input_args: [],
      hwaccel_args: [],
      stall_timeout: 20,
      enabled: true,
      zones: {},
    });
    assert.deepEqual(defaultCameraConfig('rtsp://cam/1'), config.cameras.door);
  });

  void it('derives the node id from odd host names', () => {
    assert.equal(loadConfig({ env: {}, hostname: 'Büro Kamera-1' }).node_id, 'b_ro_kamera_1');
  });
});

void describe('strictness', () => {
  void it('reports an unknown key at the top, in a section and inside a camera, with a suggestion', () => {
    const errors = errorsOf(
      'colour: red\nmqtt:\n  urll: mqtt://x\ncameras:\n  door:\n    url: rtsp://a/b\n    fsp: 3\n    motion: { enabeld: true }\n',
    );
    assert.equal(errors.length, 4, errors.join('\n'));
    assert.match(errors[0] ?? '', /^colour: unknown key/);
    assert.match(errors[1] ?? '', /^mqtt\.urll: unknown key \(did you mean url\?\)/);
    assert.ok(errors.some((e) => /^cameras\.door\.fsp: unknown key \(did you mean fps\?\)/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /^cameras\.door\.motion\.enabeld: unknown key/.test(e)), errors.join('\n'));
  });

  void it('lists every wrong type at once, each with its path and value', () => {
    const errors = errorsOf(
      [
        'mqtt:',
        '  stats_interval: often',
        '  discovery: yes',
        '  protocol_version: 3',
        'detector: { type: gpu, threads: 0, model: { cpu: { nested: 1 } } }',
        'classifier: { threshold: 1.5, vote: { window: 2, min_hits: 3 } }',
        'http: { port: 70000, enabled: maybe }',
        'log: { level: loud }',
        'gallery: { topic: edge-imprint/gallery }',
        'cameras:',
        '  door: { url: "rtsp://x/1", fps: fast, transport: http, roi: { x: 1, y: 2, w: 3 }, input_args: 5 }',
      ].join('\n'),
    );
    const expected = [
      'mqtt.stats_interval: must be an integer ("often")',
      'mqtt.discovery: must be a mapping of keys ("yes")',
      'mqtt.protocol_version: must be one of 4, 5 (3)',
      'detector.type: must be one of auto, edgetpu, cpu ("gpu")',
      'detector.threads: must be from 1 to 64 (0)',
      'detector.model.cpu: must be a string ({"nested":1})',
      'classifier.threshold: must be from 0 to 1 (1.5)',
      'classifier.vote.min_hits: must not exceed classifier.vote.window (2) (3)',
      'http.port: must be from 0 to 65535 (70000)',
      'http.enabled: must be true or false ("maybe")',
      'log.level: must be one of trace, debug, info, warn, error, fatal, silent ("loud")',
      'gallery.topic: must be a topic of its own, apart from mqtt.base_topic ("edge-imprint") ("edge-imprint/gallery")',
      'cameras.door.fps: must be a number ("fast")',
      'cameras.door.transport: must be one of tcp, udp ("http")',
      'cameras.door.input_args: must be a list of strings (5)',
    ];
    for (const line of expected) assert.ok(errors.includes(line), `missing "${line}" in:\n${errors.join('\n')}`);
    assert.ok(errors.some((e) => e.startsWith('cameras.door.roi: unknown key w')), errors.join('\n'));
    assert.equal(errors.length, expected.length + 1, errors.join('\n'));
  });

  void it('throws one ConfigError (an AppError with code config) with one line per problem', () => {
    const file = yamlFile('mqtt: { stats_interval: 0 }\nhttp: { port: -1 }\n');
    assert.throws(
      () => loadConfig({ file, env: {}, hostname: 'h' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError && err instanceof AppError);
        assert.equal(err.code, 'config');
        assert.deepEqual(err.message.split('\n'), err.lines);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ['mqtt.stats_interval', 'http.port'],
        );
        return true;
      },
    );
  });

  void it('checks camera names, required urls and reserved names', () => {
    const errors = errorsOf('cameras:\n  Front-Door: { url: rtsp://a/1 }\n  state: { url: rtsp://a/2 }\n  garage: {}\n  off: { enabled: false }\n');
    assert.ok(errors.some((e) => e.startsWith('cameras.Front-Door: camera names are') && e.includes('"front_door"')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('cameras.state: is a reserved name')), errors.join('\n'));
    assert.ok(errors.includes('cameras.garage.url: is required (or url_file) while the camera is enabled'), errors.join('\n'));
    assert.equal(errors.length, 3, errors.join('\n'));
  });

  void it('checks camera URL schemes ffmpeg is set up to open, naming the key and never the password', () => {
    const urlFile = join(dir.path, 'typo-url');
    writeFileSync(urlFile, 'htp://admin:file-pw-81@cam/s\n');
    const errors = errorsOf(
      [
        'cameras:',
        '  door: { url: "htp://admin:typo-pw-18@10.0.0.2/s", live: { url: "rtmp://cam/sub" } }',
        '  yard: { url: "rtsp:///stream" }',
        `  gate: { url_file: ${urlFile} }`,
        '  ok1: { url: "rtsps://cam:322/s", live: { url: "http://cam/mjpeg" } }',
        '  ok2: { url: /srv/demo.mp4 }',
        '  ok3: { url: /dev/video0 }',
        '  ok4: { url: "v4l2:///dev/video1" }',
        '  ok5: { url: "file:///srv/demo.mp4" }',
        '',
      ].join('\n'),
    );
    assert.equal(errors.length, 4, errors.join('\n'));
    assert.match(errors[0] ?? '', /^cameras\.door\.url: unsupported URL scheme "htp"; use rtsp:\/\/, rtsps:\/\/, http\(s\):\/\/, a file path or a V4L2 device/);
    assert.match(errors.find((e) => e.startsWith('cameras.door.live.url')) ?? '', /unsupported URL scheme "rtmp"/);
    assert.match(errors.find((e) => e.startsWith('cameras.yard.url')) ?? '', /has no host/);
    assert.match(errors.find((e) => e.startsWith('cameras.gate.url_file')) ?? '', /unsupported URL scheme "htp"/);
    assert.doesNotMatch(errors.join('\n'), /typo-pw-18|file-pw-81/);
  });

  void it('reports a missing file, a YAML syntax error with its line, and a non-mapping document', () => {
    const missing = validateConfig({ file: join(dir.path, 'nope.yaml'), env: {} });
    assert.equal(missing.length, 1);
    assert.match(missing[0] ?? '', /nope\.yaml: cannot read the config file \(ENOENT\)/);
    const syntax = errorsOf('mqtt:\n  url: [unclosed\n  password: hunter2hunter2\n');
    assert.ok(syntax.length >= 1);
    assert.match(syntax[0] ?? '', /line \d+, column \d+: YAML: /);
    assert.ok(!syntax.join('\n').includes('hunter2hunter2'));
    assert.deepEqual(errorsOf('- a\n- b\n').length, 1);
    assert.match(errorsOf('mqtt:\n  url: a\nmqtt: {}\n')[0] ?? '', /YAML: .*unique/i);
  });
});

void describe('environment', () => {
  void it('overrides every kind of key, typed, and wins over the file; CLI overrides win over both', () => {
    const file = yamlFile('mqtt: { url: "mqtt://file:1883" }\ndata_dir: /file/data\nhttp: { port: 1111 }\n');
    const config = loadConfig({
      file,
      hostname: 'h',
      env: {
        EDGE_IMPRINT_MQTT_URL: 'mqtt://broker:1883',
        EDGE_IMPRINT_DETECTOR_TYPE: 'cpu',
        EDGE_IMPRINT_CLASSIFIER_VOTE_MIN_HITS: '2',
        EDGE_IMPRINT_CLASSIFIER_THRESHOLD: '0.72',
        EDGE_IMPRINT_MQTT_DISCOVERY_ENABLED: 'off',
        EDGE_IMPRINT_MQTT_PROTOCOL_VERSION: '4',
        EDGE_IMPRINT_HTTP_HOST: '0.0.0.0',
        EDGE_IMPRINT_NODE_ID: 'shed',
        EDGE_IMPRINT_DATA_DIR: '/env/data',
        EDGE_IMPRINT_MODEL_DIR: '/env/models',
        EDGE_IMPRINT_MODEL_MIRROR: '/not/a/config/key',
      },
      overrides: { data_dir: '/flag/data' },
    });
    assert.equal(config.mqtt.url, 'mqtt://broker:1883');
    assert.equal(config.detector.type, 'cpu');
    assert.equal(config.classifier.vote.min_hits, 2);
    assert.equal(config.classifier.threshold, 0.72);
    assert.equal(config.mqtt.discovery.enabled, false);
    assert.equal(config.mqtt.protocol_version, 4);
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.http.port, 1111);
    assert.equal(config.node_id, 'shed');
    assert.equal(config.mqtt.client_id, 'edge-imprint-shed');
    assert.equal(config.data_dir, '/flag/data');
    assert.equal(config.model_dir, '/env/models');
  });

  void it('names the variable when an environment value is wrong', () => {
    const errors = validateConfig({ env: { EDGE_IMPRINT_HTTP_PORT: '80x', EDGE_IMPRINT_MQTT_STATS_INTERVAL: '' } });
    assert.deepEqual(errors, [
      'mqtt.stats_interval: must be an integer, set by EDGE_IMPRINT_MQTT_STATS_INTERVAL ("")',
      'http.port: must be an integer, set by EDGE_IMPRINT_HTTP_PORT ("80x")',
    ]);
  });

  void it('maps per-camera variables, preferring cameras the file defines, then the longest key', () => {
    const file = yamlFile('cameras:\n  front_door: { url: rtsp://a/1 }\n  cam_snapshot: { url: rtsp://a/2 }\n');
    const config = loadConfig({
      file,
      hostname: 'h',
      env: {
        EDGE_IMPRINT_CAMERAS_FRONT_DOOR_SNAPSHOT_ENABLED: 'false',
        EDGE_IMPRINT_CAMERAS_FRONT_DOOR_FPS: '5',
        EDGE_IMPRINT_CAMERAS_FRONT_DOOR_ROI: '10,20,300,200',
        EDGE_IMPRINT_CAMERAS_FRONT_DOOR_INPUT_ARGS: '-rtsp_flags prefer_tcp',
        EDGE_IMPRINT_CAMERAS_CAM_SNAPSHOT_ENABLED: 'no',
        EDGE_IMPRINT_CAMERAS_GARAGE_URL: 'rtsp://b/1',
        EDGE_IMPRINT_CAMERAS_GARAGE_MOTION_ENABLED: 'yes',
        EDGE_IMPRINT_CAMERAS: '{"yard": {"url": "rtsp://c/1", "transport": "udp"}, "front_door": {"decode": "keyframes"}}',
      },
    });
    assert.deepEqual(Object.keys(config.cameras).sort(), ['cam_snapshot', 'front_door', 'garage', 'yard']);
    const door = config.cameras.front_door;
    assert.equal(door?.snapshot.enabled, false);
    assert.equal(door?.enabled, true);
    assert.equal(door?.fps, 5);
    assert.equal(door?.decode, 'keyframes');
    assert.deepEqual(door?.roi, { x: 10, y: 20, width: 300, height: 200 });
    assert.deepEqual(door?.input_args, ['-rtsp_flags', 'prefer_tcp']);
    assert.equal(config.cameras.cam_snapshot?.enabled, false);
    assert.equal(config.cameras.cam_snapshot?.snapshot.enabled, true);
    assert.equal(config.cameras.garage?.url, 'rtsp://b/1');
    assert.equal(config.cameras.garage?.motion.enabled, true);
    assert.equal(config.cameras.yard?.transport, 'udp');
  });

  void it('reports a camera variable that maps to no key', () => {
    const errors = validateConfig({ env: { EDGE_IMPRINT_CAMERAS_DOOR_COLOUR: 'red' } });
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^EDGE_IMPRINT_CAMERAS_DOOR_COLOUR: not a camera setting/);
  });
});

void describe('secrets', () => {
  void it('reads mqtt.password_file and a camera url_file, one trailing newline dropped', () => {
    const passwordFile = join(dir.path, 'mqtt-password');
    writeFileSync(passwordFile, 'pa ss\n');
    const urlFile = join(dir.path, 'door-url');
    writeFileSync(urlFile, 'rtsp://admin:door-secret@cam/stream\n');
    const file = yamlFile(`mqtt: { password_file: ${passwordFile} }\ncameras:\n  door: { url_file: ${urlFile} }\n`);
    const config = loadConfig({ file, env: {}, hostname: 'h' });
    assert.equal(config.mqtt.password, 'pa ss');
    assert.equal(config.cameras.door?.url, 'rtsp://admin:door-secret@cam/stream');
    assert.equal('url_file' in (config.cameras.door ?? {}), false);
    const viaEnv = loadConfig({ env: { EDGE_IMPRINT_MQTT_PASSWORD_FILE: passwordFile }, hostname: 'h' });
    assert.equal(viaEnv.mqtt.password, 'pa ss');
  });

  void it('refuses both a secret and its file, and an unreadable file', () => {
    const errors = validateConfig({
      env: { EDGE_IMPRINT_MQTT_PASSWORD: 'x1', EDGE_IMPRINT_MQTT_PASSWORD_FILE: '/nonexistent/pw' },
    });
    assert.deepEqual(errors, ['mqtt.password_file: set either mqtt.password or mqtt.password_file, not both']);
    const missing = validateConfig({ env: { EDGE_IMPRINT_MQTT_PASSWORD_FILE: '/nonexistent/pw' } });
    assert.deepEqual(missing, ['mqtt.password_file: cannot read the file (ENOENT) (/nonexistent/pw)']);
    const tls = validateConfig({ env: { EDGE_IMPRINT_MQTT_TLS_CA: '/nonexistent/ca.pem' } });
    assert.deepEqual(tls, ['mqtt.tls.ca: cannot read the file (ENOENT) (/nonexistent/ca.pem)']);
  });

  void it('reads the dashboard password and tokens from their files; refuses short ones without showing them', () => {
    const passwordFile = join(dir.path, 'dash-password');
    writeFileSync(passwordFile, 'dash-board-pw\n');
    const tokenFile = join(dir.path, 'dash-tokens');
    writeFileSync(tokenFile, 'aaaaaaaaaaaaaaaa-first\nbbbbbbbbbbbbbbbb-second\n');
    const env = { EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE: passwordFile, EDGE_IMPRINT_HTTP_AUTH_TOKEN_FILE: tokenFile };
    const config = loadConfig({ env, hostname: 'h' });
    assert.equal(config.http.auth.password, 'dash-board-pw');
    assert.deepEqual(config.http.auth.token.split(/\s+/), ['aaaaaaaaaaaaaaaa-first', 'bbbbbbbbbbbbbbbb-second']);
    const both = validateConfig({ env: { ...env, EDGE_IMPRINT_HTTP_AUTH_PASSWORD: 'another-pw-1' } });
    assert.deepEqual(both, ['http.auth.password_file: set either http.auth.password or http.auth.password_file, not both']);
    const short = validateConfig({ env: { EDGE_IMPRINT_HTTP_AUTH_PASSWORD: 'shrt-pw', EDGE_IMPRINT_HTTP_AUTH_TOKEN: 'tok-short-15chr' } });
    assert.deepEqual(short, ['http.auth.password: must be at least 8 characters', 'http.auth.token: each token must be at least 16 characters (e.g. openssl rand -hex 24)']);
    assert.ok(!short.join('\n').includes('shrt-pw') && !short.join('\n').includes('tok-short-15chr'));
  });

  void it('checks the dashboard keys: proxy addresses, base path and public URL', () => {
    const errors = errorsOf('http:\n  base_path: edge/\n  public_url: ftp://x\n  auth: { trusted_proxies: [172.30.32.2, nas.local] }\n');
    assert.deepEqual(errors, [
      'http.base_path: must be empty or a path like /edge-imprint (no trailing /) ("edge/")',
      'http.public_url: must be empty or an http://, https:// or homeassistant:// URL ("ftp://x")',
      'http.auth.trusted_proxies: item 2 ("nas.local") is not an IP address (["172.30.32.2","nas.local"])',
    ]);
    const fromEnv = loadConfig({ env: { EDGE_IMPRINT_HTTP_AUTH_TRUSTED_PROXIES: '172.30.32.2, ::1' }, hostname: 'h' });
    assert.deepEqual(fromEnv.http.auth.trusted_proxies, ['172.30.32.2', '::1']);
  });

  void it('never prints a secret, wherever it sits and whatever else is wrong', () => {
    const secrets = ['Hunter2Secret', 'cam-pass-77', 'url-pass-99', 'env-pass-55', 'envcam-pw-31', 'badurl-pw-13', 'file-pw-44'];
    const pwFile = join(dir.path, 'pw2');
    writeFileSync(pwFile, 'file-pw-44');
    const errors = errorsOf(
      [
        'mqtt:',
        '  url: "mqtt//user:badurl-pw-13@broker"',
        '  password: { nested: Hunter2Secret }',
        '  stats_interval: -1',
        'cameras:',
        '  Door:',
        '    url: "rtsp://admin:cam-pass-77@10.0.0.2/s"',
        '    fps: 0',
        '    colour: "rtsp://x:url-pass-99@y"',
        '  yard: { url: [ "rtsp://u:cam-pass-77@h" ] }',
      ].join('\n'),
      {
        EDGE_IMPRINT_MQTT_PASSWORD: 'env-pass-55',
        EDGE_IMPRINT_CAMERAS_GARAGE_URL: 'rtsp://u:envcam-pw-31@h/1',
        EDGE_IMPRINT_CAMERAS_GARAGE_FPS: 'x',
        EDGE_IMPRINT_MQTT_PASSWORD_FILE: pwFile,
      },
    );
    const text = errors.join('\n');
    assert.ok(errors.length >= 6, text);
    assert.ok(text.includes('mqtt.password: must be a string'), text);
    assert.ok(text.includes('cameras.yard.url: must be a string'), text);
    for (const secret of secrets) assert.ok(!text.includes(secret), `"${secret}" leaked in:\n${text}`);

    // User names are not hidden: a camera named like one stays readable.
    const named = errorsOf('cameras:\n  admin_cam: { url: "rtsp://admin:Pw-123456@h/1", fps: 0 }\n');
    assert.deepEqual(named, ['cameras.admin_cam.fps: must be from 0.01 to 30 (0)']);

    // A password that is only wrong because it is a number, and one read from a file.
    const numeric = errorsOf('mqtt: { password: 98765432 }');
    assert.deepEqual(numeric, ['mqtt.password: must be a string']);
    const viaFile = validateConfig({ env: { EDGE_IMPRINT_MQTT_PASSWORD_FILE: pwFile, EDGE_IMPRINT_LOG_LEVEL: 'file-pw-44' } });
    assert.deepEqual(viaFile, ['log.level: must be one of trace, debug, info, warn, error, fatal, silent, set by EDGE_IMPRINT_LOG_LEVEL ("***")']);
  });
});

void describe('zones', () => {
  void it('loads zones in pixels or fractions, with class lists, in config order', () => {
    const config = loadConfig({
      file: yamlFile(`cameras:
  drive:
    url: rtsp://cam/1
    zones:
      bin: { roi: { x: 0, y: 0.5, width: 0.25, height: 0.5 }, classes: [bin_out, bin_in] }
      gate: { roi: { x: 600, y: 0, width: 300, height: 400 } }
`),
      env: {},
      hostname: 'h',
    });
    const zones = config.cameras.drive?.zones ?? {};
    assert.deepEqual(Object.keys(zones), ['bin', 'gate']);
    assert.deepEqual(zones.bin, { roi: { x: 0, y: 0.5, width: 0.25, height: 0.5 }, classes: ['bin_out', 'bin_in'] });
    assert.deepEqual(zones.gate?.classes, [], 'no list: every class');
    assert.deepEqual(loadConfig({ file: yamlFile('cameras: { door: { url: rtsp://c/1 } }'), env: {}, hostname: 'h' }).cameras.door?.zones, {});
  });

  void it('names every bad zone with its field: outside the frame, zero size, no roi, bad names and class lists, roi beside zones', () => {
    const errors = errorsOf(`cameras:
  drive:
    url: rtsp://cam/1
    roi: { x: 0, y: 0, width: 100, height: 100 }
    zones:
      wide: { roi: { x: 0.5, y: 0, width: 0.6, height: 1 } }
      flat: { roi: { x: 10, y: 10, width: 0, height: 5 } }
      nowhere: { classes: [cat] }
      "a/b": { roi: { x: 0, y: 0, width: 1, height: 1 } }
      status: { roi: { x: 0, y: 0, width: 1, height: 1 } }
      listy: { roi: { x: 0, y: 0, width: 1, height: 1 }, classes: [cat, cat, "", unknown] }
      odd: { roi: { x: 0, y: 0, width: 1, height: 1 }, colour: red }
`);
    const expect = [
      /^cameras\.drive\.roi: cannot be combined with zones/,
      /^cameras\.drive\.zones\.wide\.roi: is outside the frame: x \+ width must be at most 1/,
      /^cameras\.drive\.zones\.flat\.roi: width must be above 0/,
      /^cameras\.drive\.zones\.nowhere\.roi: is required/,
      /^cameras\.drive\.zones\.a\/b: zone names follow the class label rules/,
      /^cameras\.drive\.zones\.status: zone names follow the class label rules: "status" is reserved/,
      /^cameras\.drive\.zones\.listy\.classes: item 3 \(""\) must be 1-64 characters/,
      /^cameras\.drive\.zones\.odd\.colour: unknown key/,
    ];
    for (const pattern of expect) assert.ok(errors.some((e) => pattern.test(e)), `${pattern} not in:\n${errors.join('\n')}`);
    assert.equal(errors.filter((e) => e.startsWith('cameras.drive.zones.flat.roi')).length, 1, 'one problem, one line');
  });
});
