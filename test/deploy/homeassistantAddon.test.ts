/**
 * The Home Assistant add-on in deploy/homeassistant-addon/, checked by reading it (no
 * Supervisor here) against the add-on configuration keys Home Assistant documents
 * (developers.home-assistant.io/docs/apps/configuration, "Required" and "Optional
 * configuration options", "Options / Schema", "App translations"), and its options mapped to
 * an agent configuration that validates.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { agentEnvironment, HTTP_PORT, INGRESS_PROXY } from '../../deploy/homeassistant-addon/run.mjs';
import { ROOT } from '../helpers/env.js';

const ADDON = join(ROOT, 'deploy', 'homeassistant-addon');
const read = (file: string): string => readFileSync(join(ADDON, file), 'utf8');

/** The documented keys of an add-on's config.yaml, required first. */
const REQUIRED = ['name', 'version', 'slug', 'description', 'arch'];
const OPTIONAL = [
  'machine', 'url', 'startup', 'webui', 'boot', 'ports', 'ports_description', 'host_network', 'host_ipc', 'host_dbus',
  'host_pid', 'host_uts', 'devices', 'homeassistant', 'hassio_role', 'hassio_api', 'homeassistant_api', 'docker_api',
  'privileged', 'full_access', 'apparmor', 'map', 'environment', 'audio', 'video', 'gpio', 'usb', 'uart', 'udev',
  'devicetree', 'kernel_modules', 'stdin', 'legacy', 'options', 'schema', 'image', 'timeout', 'tmpfs', 'discovery',
  'services', 'auth_api', 'ingress', 'ingress_port', 'ingress_entry', 'ingress_stream', 'panel_icon', 'panel_title',
  'panel_admin', 'backup', 'backup_pre', 'backup_post', 'backup_exclude', 'stage', 'init', 'watchdog', 'realtime',
  'journald', 'breaking_versions', 'ulimits',
];
const BOOLEAN_KEYS = [
  'host_network', 'host_ipc', 'host_dbus', 'host_pid', 'host_uts', 'hassio_api', 'homeassistant_api', 'docker_api', 'full_access',
  'audio', 'video', 'gpio', 'usb', 'uart', 'udev', 'devicetree', 'kernel_modules', 'stdin', 'legacy', 'tmpfs', 'auth_api',
  'ingress', 'ingress_stream', 'panel_admin', 'init', 'realtime', 'journald',
];
const ARCHES = ['aarch64', 'amd64'];
const STARTUP = ['initialize', 'system', 'services', 'application', 'once'];
const MAP_TYPES = ['homeassistant_config', 'addon_config', 'ssl', 'addons', 'backup', 'share', 'media', 'all_addon_configs', 'data'];
/** The schema's value types (`?` at the end: optional). */
const SCHEMA_TYPE =
  /^(str(\(\d*,\d*\))?|bool|int(\(-?\d*,-?\d*\))?|float(\([\d.-]*,[\d.-]*\))?|email|url|password|port|match\(.+\)|list\([^|()]+(\|[^|()]+)*\)|device(\(.+\))?)\??$/;

const config = parse(read('config.yaml')) as Record<string, unknown>;

function schemaLeaves(schema: unknown, prefix = ''): Array<[string, unknown]> {
  if (Array.isArray(schema)) return schemaLeaves(schema[0], `${prefix}[]`);
  if (typeof schema === 'object' && schema !== null) {
    return Object.entries(schema).flatMap(([k, v]) => schemaLeaves(v, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [[prefix, schema]];
}

void describe('Home Assistant add-on', () => {
  void it('uses only documented config.yaml keys, with the required ones and values of the documented kinds', () => {
    for (const key of REQUIRED) assert.ok(key in config, `${key} is required`);
    for (const key of Object.keys(config)) assert.ok(REQUIRED.includes(key) || OPTIONAL.includes(key), `${key} is not a documented add-on key`);
    for (const key of BOOLEAN_KEYS) if (key in config) assert.equal(typeof config[key], 'boolean', key);
    for (const key of ['name', 'version', 'slug', 'description', 'url', 'panel_icon', 'panel_title']) if (key in config) assert.equal(typeof config[key], 'string', key);
    assert.match(String(config.slug), /^[a-z0-9_]+$/, 'slug: URI friendly');
    assert.ok(Array.isArray(config.arch) && config.arch.length > 0 && config.arch.every((a) => ARCHES.includes(a as string)), 'arch');
    assert.ok(STARTUP.includes(String(config.startup)), 'startup');
    assert.match(String(config.panel_icon), /^mdi:[a-z0-9-]+$/);
    for (const service of config.services as string[]) assert.match(service, /^mqtt:(provide|want|need)$/);
    for (const entry of config.map as Array<{ type: string; read_only?: boolean }>) assert.ok(MAP_TYPES.includes(entry.type), entry.type);
    for (const device of config.devices as string[]) assert.match(device, /^\/dev\//);
    for (const port of Object.keys(config.ports as object)) assert.match(port, /^\d+\/(tcp|udp)$/);
  });

  void it('is the agent at its own version, with ingress to the dashboard on its port, the Coral devices and the MQTT service', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(config.version, pkg.version);
    assert.equal(config.ingress, true);
    assert.equal(config.ingress_port, HTTP_PORT);
    assert.deepEqual(Object.keys(config.ports as object), [`${HTTP_PORT}/tcp`]);
    assert.equal(config.usb, true, 'the Coral USB Accelerator');
    assert.ok((config.devices as string[]).includes('/dev/apex_0'), 'the Coral PCIe card');
    assert.ok((config.services as string[]).includes('mqtt:want'));
    assert.equal(config.init, false, 'the image brings tini');
  });

  void it('declares every option in the schema with a documented type, and translates each', () => {
    const schema = config.schema as Record<string, unknown>;
    for (const key of Object.keys(config.options as object)) assert.ok(key in schema, `option ${key} has no schema`);
    for (const [path, type] of schemaLeaves(schema)) assert.match(String(type), SCHEMA_TYPE, `schema ${path}: ${String(type)}`);
    const translations = (parse(read('translations/en.yaml')) as { configuration: Record<string, { name: string; description: string }>; network: Record<string, string> });
    assert.deepEqual(Object.keys(translations.configuration).sort(), Object.keys(schema).sort());
    for (const [key, t] of Object.entries(translations.configuration)) assert.ok(t.name && t.description, key);
    assert.deepEqual(Object.keys(translations.network), Object.keys(config.ports as object));
  });

  void it('has the files an add-on needs, its image from the project\'s, and a repository file at the root', () => {
    for (const file of ['config.yaml', 'Dockerfile', 'README.md', 'DOCS.md', 'CHANGELOG.md', 'translations/en.yaml', 'run.mjs']) {
      assert.ok(existsSync(join(ADDON, file)), file);
    }
    const docker = read('Dockerfile');
    assert.match(docker, /^FROM \$\{EDGE_IMPRINT_IMAGE\}$/m);
    assert.match(docker, /^ARG EDGE_IMPRINT_IMAGE=\S+edge-imprint:0\.1\.0$/m);
    assert.match(docker, /io\.hass\.version="0\.1\.0"/);
    assert.match(docker, /io\.hass\.arch="aarch64\|amd64"/);
    assert.match(docker, /^COPY run\.mjs \/addon\/run\.mjs$/m);
    assert.match(docker, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/addon\/run\.mjs"\]$/m);
    // The project's image has what the entry needs.
    const project = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(project, /tini/);
    assert.match(project, /COPY --from=build \/app\/dist \.\/dist/);
    const repository = parse(readFileSync(join(ROOT, 'repository.yaml'), 'utf8')) as { name?: string };
    assert.equal(typeof repository.name, 'string');
  });

  void it('maps the options to an agent configuration that validates: ingress trusted, cameras, detector, MQTT, password', () => {
    const options = {
      cameras: [{ name: 'door', url: 'rtsp://admin:pw@192.168.1.20/stream', fps: 2 }, { name: 'yard', url: 'rtsp://cam2/s' }],
      detector: 'edgetpu' as const,
      coral_device: 'usb',
      dashboard_password: 'a-long-password',
      log_level: 'debug',
    };
    const mqtt = { host: 'core-mosquitto', port: 1883, ssl: false, username: 'addons', password: 'secret-pw' };
    const env = agentEnvironment(options, { mqtt, slug: 'local_edge_imprint' });
    assert.deepEqual(validateConfig({ env, hostname: 'local-edge-imprint' }), []);
    const loaded = loadConfig({ env, hostname: 'local-edge-imprint' });
    assert.equal(loaded.http.host, '0.0.0.0');
    assert.equal(loaded.http.port, HTTP_PORT);
    assert.deepEqual(loaded.http.auth.trusted_proxies, [INGRESS_PROXY]);
    assert.equal(loaded.http.auth.password, 'a-long-password');
    assert.equal(loaded.http.public_url, 'homeassistant://hassio/ingress/local_edge_imprint');
    assert.equal(loaded.mqtt.url, 'mqtt://core-mosquitto:1883');
    assert.equal(loaded.mqtt.username, 'addons');
    assert.equal(loaded.detector.type, 'edgetpu');
    assert.equal(loaded.detector.device, 'usb');
    assert.deepEqual(Object.keys(loaded.cameras), ['door', 'yard']);
    assert.equal(loaded.cameras.yard?.fps, 2);
    assert.equal(loaded.data_dir, '/data');

    // The user's own broker wins over the Supervisor's; no password: ingress only.
    const own = agentEnvironment({ mqtt_url: 'mqtts://broker:8883', mqtt_username: 'me', cameras: [] }, { mqtt, slug: '' });
    assert.deepEqual(validateConfig({ env: own, hostname: 'h' }), []);
    const ownConfig = loadConfig({ env: own, hostname: 'h' });
    assert.equal(ownConfig.mqtt.url, 'mqtts://broker:8883');
    assert.equal(ownConfig.mqtt.password, '');
    assert.equal(ownConfig.http.auth.password, '');
    assert.equal(ownConfig.http.public_url, '');
  });
});
