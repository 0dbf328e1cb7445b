import type { AppConfig } from './config/types.js';
import { requestTopic } from './mqtt/topics.js';
import { authMode, isLoopbackAddress } from './web/auth.js';
import { dashboardUrl } from './web/dashboard/dashboard.js';

/** Host and port of an MQTT URL, without credentials (the banner is logged). */
function brokerAddress(url: string): { host: string; port: string } {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: u.port || (u.protocol === 'mqtts:' ? '8883' : '1883') };
  } catch {
    return { host: 'localhost', port: '1883' };
  }
}

/**
 * Where to open the dashboard, or null when http is off. Its public address when known (as Home
 * Assistant's link), else this machine's: the loopback name it is bound to, or 127.0.0.1 when
 * it listens on every address. `port` is the port actually bound (http.port may be 0).
 */
function dashboardLine(http: AppConfig['http'], port: number): string | null {
  if (!http.enabled) return null;
  const host = http.host.replace(/^\[|\]$/g, '');
  const local = isLoopbackAddress(host) ? host : '127.0.0.1';
  const shown = local.includes(':') ? `[${local}]` : local;
  const url = dashboardUrl({ ...http, port }) ?? `http://${shown}:${port}${http.base_path}/`;
  const note = authMode(http) === 'refused' ? ' (it refuses everyone until http.auth.password is set: it listens beyond loopback)' : '';
  return `Dashboard:             ${url}${note}`;
}

/** The last start-up log lines: how to enroll a first class, where the dashboard is, and how to reach Home Assistant. Pure. */
export function startupBanner(opts: { config: AppConfig; mqttUrl: string; embeddedBroker: boolean; cameras: string[]; httpPort?: number }): string {
  const { config, mqttUrl, embeddedBroker, cameras } = opts;
  const dashboard = dashboardLine(config.http, opts.httpPort || config.http.port);
  const { host, port } = brokerAddress(mqttUrl);
  const base = config.mqtt.base_topic;
  const auth = config.mqtt.username ? ` -u ${config.mqtt.username} -P '<password>'` : '';
  const enroll = `mosquitto_pub -h ${host} -p ${port}${auth} -t '${requestTopic(base, 'class/enroll/cat')}' -f cat.jpg`;
  const listen = `mosquitto_sub -h ${host} -p ${port}${auth} -t '${base}/#' -v`;
  const ha = !embeddedBroker
    ? `Home Assistant: discovery is ${config.mqtt.discovery.enabled ? `on (prefix ${config.mqtt.discovery.prefix})` : 'off'}; the device "${config.node_id}" appears under Settings > Devices > MQTT.`
    : 'Home Assistant: point edge-imprint at the broker Home Assistant uses (mqtt.url: mqtt://<ha-host>:1883 with a user), or add this machine\'s embedded broker in HA\'s MQTT integration (bind it beyond loopback first).';
  return [
    `edge-imprint is running: ${cameras.length} camera(s) [${cameras.join(', ')}], MQTT ${host}:${port}, base topic "${base}".`,
    `Enroll a first class:  ${enroll}`,
    `Watch what it sees:    ${listen}`,
    ...(dashboard ? [dashboard] : []),
    ha,
  ].join('\n');
}
