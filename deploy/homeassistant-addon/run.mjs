#!/usr/bin/env node
/* global fetch, AbortSignal */
// The add-on's entry: reads the options Home Assistant saved (/data/options.json), asks the
// Supervisor for its MQTT broker when none is given, and runs `edge-imprint run` with the
// matching EDGE_IMPRINT_* variables. A config.yaml in the add-on's config folder (/config)
// is read by the agent as usual; the options win over it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';

/** Home Assistant's ingress proxy: its requests come logged in. */
export const INGRESS_PROXY = '172.30.32.2';
export const HTTP_PORT = 8089;

/**
 * The agent's environment for the add-on's options. Pure.
 * `mqtt`: the Supervisor's MQTT service ({host, port, ssl, username, password}) or null.
 * `slug`: the add-on's full slug (e.g. local_edge_imprint), for the ingress link.
 */
export function agentEnvironment(options, { mqtt = null, slug = '' } = {}) {
  const env = {
    EDGE_IMPRINT_DATA_DIR: '/data',
    EDGE_IMPRINT_HTTP_HOST: '0.0.0.0',
    EDGE_IMPRINT_HTTP_PORT: String(HTTP_PORT),
    EDGE_IMPRINT_HTTP_AUTH_TRUSTED_PROXIES: INGRESS_PROXY,
    EDGE_IMPRINT_DETECTOR_TYPE: options.detector ?? 'auto',
    EDGE_IMPRINT_LOG_LEVEL: options.log_level ?? 'info',
    EDGE_IMPRINT_LOG_FORMAT: 'pretty',
  };
  if (slug) env.EDGE_IMPRINT_HTTP_PUBLIC_URL = `homeassistant://hassio/ingress/${slug}`;
  if (options.coral_device) env.EDGE_IMPRINT_DETECTOR_DEVICE = options.coral_device;
  if (options.dashboard_password) env.EDGE_IMPRINT_HTTP_AUTH_PASSWORD = options.dashboard_password;
  if (options.mqtt_url) {
    env.EDGE_IMPRINT_MQTT_URL = options.mqtt_url;
    if (options.mqtt_username) env.EDGE_IMPRINT_MQTT_USERNAME = options.mqtt_username;
    if (options.mqtt_password) env.EDGE_IMPRINT_MQTT_PASSWORD = options.mqtt_password;
  } else if (mqtt) {
    env.EDGE_IMPRINT_MQTT_URL = `${mqtt.ssl ? 'mqtts' : 'mqtt'}://${mqtt.host}:${mqtt.port}`;
    if (mqtt.username) env.EDGE_IMPRINT_MQTT_USERNAME = mqtt.username;
    if (mqtt.password) env.EDGE_IMPRINT_MQTT_PASSWORD = mqtt.password;
  }
  const cameras = Object.fromEntries(
    (options.cameras ?? []).map((c) => [c.name, { url: c.url, ...(c.fps !== undefined ? { fps: c.fps } : {}) }]),
  );
  if (Object.keys(cameras).length > 0) env.EDGE_IMPRINT_CAMERAS = JSON.stringify(cameras);
  return env;
}

async function supervisor(path) {
  const token = process.env.SUPERVISOR_TOKEN;
  if (!token) return null;
  try {
    const res = await fetch(`http://supervisor${path}`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    return (await res.json()).data ?? null;
  } catch {
    return null;
  }
}

/** The add-on's slug: from the Supervisor, else from the container's host name (`local-edge-imprint`). */
async function ownSlug() {
  const info = await supervisor('/addons/self/info');
  return typeof info?.slug === 'string' ? info.slug : hostname().replace(/-/g, '_');
}

async function main() {
  const options = JSON.parse(readFileSync('/data/options.json', 'utf8'));
  const mqtt = options.mqtt_url ? null : await supervisor('/services/mqtt');
  if (!options.mqtt_url && !mqtt) console.error('edge-imprint: no mqtt_url and no MQTT service from Home Assistant: starting the embedded broker');
  const env = { ...process.env, ...agentEnvironment(options, { mqtt, slug: await ownSlug() }) };
  const child = spawn(process.execPath, ['/app/dist/cli/main.js', 'run'], { cwd: '/app', env, stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
