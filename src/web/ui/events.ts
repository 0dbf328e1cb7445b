/** Events: recent detections with their snapshots, and the correction (event/*) buttons. */
import { command, get, list } from './api.js';
import type { CameraView, EventView } from '../apiTypes.js';
import { clear, h, score, time, toast } from './dom.js';
import type { Mount } from './main.js';

interface Filter {
  camera: string;
  zone: string;
  label: string;
}

async function correct(what: string, name: string, payload: unknown, reload: () => void): Promise<void> {
  try {
    await command(name, payload);
    toast(what);
  } catch (err) {
    toast(`${what.replace(/\.$/, '')} failed: ${(err as Error).message}`, 'error');
  }
  reload();
}

function buttons(e: EventView, reload: () => void): HTMLElement {
  if (e.correction !== null) {
    const said = e.correction === 'relabeled' ? `relabeled as "${e.corrected_label ?? ''}"` : e.correction;
    return h('div', { class: 'row' }, h('span', { class: 'muted' }, `${said} ${time(e.corrected_at)}`), h('button', { type: 'button', onclick: () => void correct('Correction taken back.', 'event/undo', { id: e.id }, reload) }, 'Undo'));
  }
  const relabel = h('input', { type: 'text', placeholder: 'it was…', 'aria-label': 'correct label', maxlength: 64 });
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', class: 'primary', onclick: () => void correct(`Confirmed "${e.label}".`, 'event/confirm', { id: e.id }, reload) }, 'Right'),
      h('button', { type: 'button', class: 'danger', onclick: () => void correct(`Rejected "${e.label}".`, 'event/reject', { id: e.id }, reload) }, 'Wrong'),
      h('button', { type: 'button', class: 'danger', title: 'wrong, and nothing at all was there', onclick: () => void correct('Rejected: nothing was there.', 'event/reject', { id: e.id, empty: true }, reload) }, 'Nothing there'),
    ),
    h('div', { class: 'row' }, relabel, h('button', { type: 'button', onclick: () => void correct(`Relabeled as "${relabel.value}".`, 'event/relabel', { id: e.id, label: relabel.value }, reload) }, 'Relabel')),
  );
}

function eventRow(e: EventView, reload: () => void): HTMLElement {
  const where = e.zone ? `${e.camera} / ${e.zone}` : e.camera;
  const picture = e.has_snapshot
    ? h('img', { src: `api/events/${encodeURIComponent(e.id)}.jpg`, alt: `${e.label} on ${where}`, loading: 'lazy' })
    : h('div', { class: 'noimg' });
  return h(
    'article',
    { class: `event ${e.correction ?? ''}`, 'data-event': e.id },
    picture,
    h('div', {}, h('div', {}, h('b', {}, e.label), ` ${score(e.score)} · ${where}`), h('div', { class: 'muted' }, time(e.start_time), e.end_time ? ` – ${time(e.end_time)}` : ' (ongoing)'), buttons(e, reload)),
  );
}

function filters(cameras: CameraView[], filter: Filter, apply: () => void): HTMLElement {
  const camera = h('select', { 'aria-label': 'camera' }, h('option', { value: '' }, 'every camera'), ...cameras.map((c) => h('option', { value: c.name }, c.name)));
  const zone = h('select', { 'aria-label': 'zone' }, h('option', { value: '' }, 'every zone'));
  const label = h('input', { type: 'text', placeholder: 'label', 'aria-label': 'label' });
  const zonesOf = () => {
    const zones = cameras.find((c) => c.name === camera.value)?.zones ?? [];
    zone.replaceChildren(h('option', { value: '' }, 'every zone'), ...zones.map((z) => h('option', { value: z.name }, z.name)));
  };
  const update = () => {
    Object.assign(filter, { camera: camera.value, zone: zone.value, label: label.value.trim() });
    apply();
  };
  camera.addEventListener('change', () => {
    zonesOf();
    update();
  });
  zone.addEventListener('change', update);
  label.addEventListener('change', update);
  return h('div', { class: 'filters' }, camera, zone, label);
}

export const mountEvents: Mount = (el, ctx) => {
  let gone = false;
  const filter: Filter = { camera: '', zone: '', label: '' };
  const listEl = h('div', { class: 'events' });
  const reload = () => {
    void list('api/events', { ...filter, limit: 100 }).then((events) => {
      if (gone) return;
      clear(listEl);
      if (events.length === 0) listEl.appendChild(h('p', { class: 'muted' }, 'No detection yet.'));
      for (const e of events) listEl.appendChild(eventRow(e, reload));
      ctx.ready();
    });
  };
  void get('api/cameras').then((cameras) => {
    if (gone) return;
    el.append(filters(cameras, filter, reload), listEl);
    reload();
  });
  ctx.on('detection', (d) => {
    if (d.type === 'start') reload();
  });
  return () => {
    gone = true;
  };
};
