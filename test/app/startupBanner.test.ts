import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppConfig } from '../../src/config/types.js';
import { loadConfig } from '../../src/config/load.js';
import { startupBanner } from '../../src/startupBanner.js';

/** The defaults with `http` changed as given (the banner is pure: no file, no environment). */
function config(http: Partial<AppConfig['http']> = {}): AppConfig {
  const base = loadConfig({ env: {}, hostname: 'garage' });
  return { ...base, http: { ...base.http, ...http } };
}

function banner(cfg: AppConfig, httpPort?: number): string {
  return startupBanner({ config: cfg, mqttUrl: 'mqtt://127.0.0.1:1883', embeddedBroker: true, cameras: ['demo'], ...(httpPort ? { httpPort } : {}) });
}

void describe('the start-up banner', () => {
  void it('tells how to enroll a first class and watch the topics', () => {
    const text = banner(config());
    assert.match(text, /^Enroll a first class: +mosquitto_pub -h 127\.0\.0\.1 -p 1883 -t 'edge-imprint\/request\/class\/enroll\/cat' -f cat\.jpg$/m);
    assert.match(text, /^Watch what it sees: +mosquitto_sub -h 127\.0\.0\.1 -p 1883 -t 'edge-imprint\/#' -v$/m);
  });

  void it('names the dashboard URL on the defaults (127.0.0.1:8089)', () => {
    assert.match(banner(config()), /^Dashboard: +http:\/\/127\.0\.0\.1:8089\/$/m);
  });

  void it('names the port actually bound, the base path, and a public URL when one is set', () => {
    assert.match(banner(config({ port: 0 }), 41234), /^Dashboard: +http:\/\/127\.0\.0\.1:41234\/$/m);
    assert.match(banner(config({ host: 'localhost', base_path: '/edge-imprint' })), /^Dashboard: +http:\/\/localhost:8089\/edge-imprint\/$/m);
    assert.match(banner(config({ public_url: 'https://cams.example.org/' })), /^Dashboard: +https:\/\/cams\.example\.org\/$/m);
    assert.match(banner(config({ host: '192.168.1.5', auth: { ...config().http.auth, password: 'long enough' } })), /^Dashboard: +http:\/\/192\.168\.1\.5:8089\/$/m);
  });

  void it('says when the dashboard refuses everyone (every address, no password)', () => {
    assert.match(banner(config({ host: '0.0.0.0' })), /^Dashboard: +http:\/\/127\.0\.0\.1:8089\/ \(it refuses everyone until http\.auth\.password is set/m);
  });

  void it('has no dashboard line when http is off', () => {
    assert.doesNotMatch(banner(config({ enabled: false })), /Dashboard/);
  });
});
