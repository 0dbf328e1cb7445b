/** Status: the detector (Edge TPU or CPU, and why), MQTT, the cameras and their live views, the version. */
import { get } from './api.js';
import type { StatusView } from '../apiTypes.js';
import { clear, h } from './dom.js';
import type { Mount } from './main.js';

function uptime(s: number): string {
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d} d ${hh} h` : hh > 0 ? `${hh} h ${m} min` : `${m} min ${s % 60} s`;
}

function detector(s: StatusView): HTMLElement {
  const d = s.detector;
  const kind = d.type === 'edgetpu' ? `Edge TPU${d.device ? ` (${d.device})` : ''}` : 'CPU';
  return h(
    'section',
    { class: 'card', id: 'detector' },
    h('h2', {}, 'Detector', h('span', { class: `badge ${d.state === 'ready' || d.state === 'fallback' ? 'online' : 'offline'}` }, d.state)),
    h('table', {}, h('tbody', {},
      h('tr', {}, h('th', {}, 'Running on'), h('td', { 'data-detector': d.type }, kind)),
      h('tr', {}, h('th', {}, 'Why'), h('td', {}, d.backend_reason || '—')),
      h('tr', {}, h('th', {}, 'State'), h('td', {}, `${d.state}${d.state_reason ? `: ${d.state_reason}` : ''}`)),
      h('tr', {}, h('th', {}, 'Inference'), h('td', {}, `${d.inference_ms} ms, ${d.restarts} restarts`)),
      h('tr', {}, h('th', {}, 'Model'), h('td', {}, d.model)),
    )),
  );
}

function cameras(s: StatusView): HTMLElement {
  const rows = Object.entries(s.cameras).map(([name, c]) =>
    h(
      'tr',
      { 'data-camera': name },
      h('td', {}, name),
      h('td', {}, h('span', { class: `badge ${c.status}` }, c.status), c.enabled ? null : ' detection off'),
      h('td', {}, `${c.camera_fps} / ${c.process_fps}`),
      h('td', {}, String(c.reconnects)),
      h('td', {}, c.live ? `${c.live.state}, ${c.live.viewers} watching` : '—'),
      h('td', { class: 'err' }, c.last_error ?? c.live?.last_error ?? ''),
    ),
  );
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Cameras'),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'camera'), h('th', {}, 'status'), h('th', {}, 'fps in / processed'), h('th', {}, 'reconnects'), h('th', {}, 'live view'), h('th', {}, 'last error'))), h('tbody', {}, ...rows)),
  );
}

function agent(s: StatusView): HTMLElement {
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Agent'),
    h('table', {}, h('tbody', {},
      h('tr', {}, h('th', {}, 'Version'), h('td', { id: 'version' }, s.version)),
      h('tr', {}, h('th', {}, 'Node'), h('td', {}, s.node_id)),
      h('tr', {}, h('th', {}, 'Up'), h('td', {}, `${uptime(s.uptime_s)}, ${s.rss_mb} MB`)),
      h('tr', {}, h('th', {}, 'MQTT'), h('td', {}, h('span', { class: `badge ${s.mqtt.connected ? 'online' : 'offline'}` }, s.mqtt.connected ? 'connected' : 'disconnected'), ` ${s.mqtt.broker}`)),
      h('tr', {}, h('th', {}, 'Classes'), h('td', {}, String(s.classes))),
    )),
  );
}

export const mountStatus: Mount = (el, ctx) => {
  let gone = false;
  const grid = h('div', { class: 'grid' });
  el.appendChild(grid);
  const draw = () => {
    void get('api/status').then((s) => {
      if (gone) return;
      clear(grid);
      grid.append(detector(s), cameras(s), agent(s));
      ctx.ready();
    });
  };
  ctx.on('detector', draw);
  ctx.on('camera', draw);
  draw();
  const timer = setInterval(draw, 5000);
  return () => {
    gone = true;
    clearInterval(timer);
  };
};
