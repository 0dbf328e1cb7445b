/** Live: each camera's picture with its zones, labels and scores, and enrollment from a box or photos. */
import { command, get } from './api.js';
import type { Box, CameraView, EnrollAnswerView } from '../apiTypes.js';
import { h, score, toast } from './dom.js';
import { enrollRequest, enrollTargets, fractions } from './enrollTarget.js';
import type { Mount } from './main.js';

interface Card {
  camera: CameraView;
  stage: HTMLDivElement;
  canvas: HTMLCanvasElement;
  badge: HTMLSpanElement;
  chips: Map<string, HTMLSpanElement>;
  boxEl: HTMLDivElement;
  box: Box | null;
  /** What Enroll learns from: the box, a zone, or the whole camera. */
  target: HTMLSelectElement;
  player: JSMpegPlayer | null;
  frames: number;
}

/** The stream's size once known: from the agent, or the first decoded frame. */
function sizeOf(card: Card): { width: number; height: number } | null {
  return card.camera.source_size ?? (card.frames > 0 ? { width: card.canvas.width, height: card.canvas.height } : null);
}

/** The target choices for the box drawn now (or none), keeping the user's choice when it is still offered. */
function refreshTargets(card: Card): void {
  const targets = enrollTargets(card.camera, card.box, sizeOf(card));
  const kept = targets.some((t) => t.value === card.target.value) && card.target.dataset.box === String(card.box !== null) ? card.target.value : null;
  card.target.replaceChildren(...targets.map((t) => h('option', { value: t.value }, t.text)));
  card.target.value = kept ?? targets[0]?.value ?? 'camera';
  card.target.dataset.box = String(card.box !== null);
}

function place(el: HTMLElement, b: Box): void {
  el.style.left = `${b.x * 100}%`;
  el.style.top = `${b.y * 100}%`;
  el.style.width = `${b.width * 100}%`;
  el.style.height = `${b.height * 100}%`;
}

function unitKey(camera: string, zone: string | null): string {
  return `${camera}/${zone ?? ''}`;
}

/** The zones (or the camera's roi) drawn over the picture, each with its label chip. */
function drawRegions(card: Card): void {
  const { camera, stage } = card;
  const size = sizeOf(card);
  // The whole frame's chip too: a redraw (the first frame gives the size) must not leave a stale one.
  for (const el of stage.querySelectorAll('.zone, .chip.whole')) el.remove();
  card.chips.clear();
  if (camera.zones.length === 0) {
    const chip = h('span', { class: 'chip whole', 'data-unit': unitKey(camera.name, null) }, '…');
    stage.appendChild(chip);
    card.chips.set(unitKey(camera.name, null), chip);
    const roi = camera.roi ? fractions(camera.roi, size) : null;
    if (roi) {
      const el = h('div', { class: 'zone roi' });
      place(el, roi);
      stage.appendChild(el);
    }
    return;
  }
  const corners = new Map<string, number>();
  for (const zone of camera.zones) {
    const roi = fractions(zone.roi, size);
    if (!roi) continue;
    const chip = h('span', { class: 'chip', 'data-unit': unitKey(camera.name, zone.name) }, zone.name);
    // Zones sharing a corner stack their labels instead of covering each other's.
    const corner = `${roi.x.toFixed(2)},${roi.y.toFixed(2)}`;
    const stacked = corners.get(corner) ?? 0;
    corners.set(corner, stacked + 1);
    chip.style.marginTop = `${stacked * 1.5}em`;
    const el = h('div', { class: `zone${roi.y < 0.06 ? ' top' : ''}`, 'data-zone': zone.name }, chip);
    place(el, roi);
    stage.appendChild(el);
    card.chips.set(unitKey(camera.name, zone.name), chip);
  }
}

/** Dragging on the picture draws the enrollment box (fractions of the frame). */
function enableBoxDrawing(card: Card): void {
  const { stage, boxEl } = card;
  let start: { x: number; y: number } | null = null;
  const at = (e: PointerEvent) => {
    const r = stage.getBoundingClientRect();
    return { x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) };
  };
  stage.addEventListener('pointerdown', (e) => {
    start = at(e);
    stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener('pointermove', (e) => {
    if (!start) return;
    const p = at(e);
    card.box = { x: Math.min(start.x, p.x), y: Math.min(start.y, p.y), width: Math.abs(p.x - start.x), height: Math.abs(p.y - start.y) };
    place(boxEl, card.box);
    boxEl.hidden = false;
  });
  const end = () => {
    if (!start) return;
    start = null;
    // A click (or a tiny drag) clears the box: Enroll then learns from a zone or the whole camera.
    if (!card.box || card.box.width < 0.02 || card.box.height < 0.02) clearBox(card);
    else refreshTargets(card);
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', end);
}

function clearBox(card: Card): void {
  card.box = null;
  card.boxEl.hidden = true;
  refreshTargets(card);
}

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

/** The model sees 224 px and thumbnails keep at most this: a phone's 12 MP photo need not travel. */
const MAX_PHOTO_SIDE = 1280;

/**
 * A photo as a JPEG data URL at most MAX_PHOTO_SIDE px on its long side (EXIF rotation
 * applied); a PNG if it has transparent pixels, which a JPEG would lose: the agent takes a
 * photo with its background removed as exactly its object. What the browser cannot decode
 * goes as it is: the agent then says what is wrong.
 */
async function shrinkPhoto(file: File): Promise<string> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return readAsDataUrl(file);
  }
  const scale = Math.min(1, MAX_PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = h('canvas', { width: Math.max(1, Math.round(bitmap.width * scale)), height: Math.max(1, Math.round(bitmap.height * scale)) });
  const context = canvas.getContext('2d');
  context?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL(context && transparent(context, canvas) ? 'image/png' : 'image/jpeg', 0.9);
}

function transparent(context: CanvasRenderingContext2D, canvas: HTMLCanvasElement): boolean {
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 3; i < data.length; i += 4) if (data[i]! < 255) return true;
  return false;
}

async function enroll(card: Card, label: string, files: File[] | null): Promise<void> {
  if (label.trim() === '') {
    toast('Type a label first.', 'error');
    return;
  }
  const payload = files
    ? { label, images: await Promise.all(files.map(shrinkPhoto)) }
    : enrollRequest(label, card.camera.name, card.target.value, card.box);
  try {
    const r = await command<EnrollAnswerView>('class/enroll', payload);
    const where = (r.recognised_in ?? []).map((u) => `${u.zone === null ? u.camera : `${u.camera}/${u.zone}`} (${u.how})`);
    toast(`Enrolled "${r.label}": ${r.added} new, ${r.shots} shot${r.shots === 1 ? '' : 's'} in all.${where.length > 0 ? ` Recognised in ${where.join(', ')}.` : ''}`);
    // Still enrolled; the warnings stay longer, like errors, to be read.
    for (const w of r.warning ?? []) toast(`Note (${w.code}): ${w.message}`, 'error');
    clearBox(card);
  } catch (err) {
    toast(`Enroll failed: ${(err as Error).message}`, 'error');
  }
}

function enrollForm(card: Card): HTMLElement {
  const label = h('input', { type: 'text', placeholder: 'label, e.g. parcel', 'aria-label': 'label', maxlength: 64, name: 'label' });
  const photos = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', multiple: true, hidden: true });
  photos.addEventListener('change', () => {
    if (photos.files && photos.files.length > 0) void enroll(card, label.value, [...photos.files]);
    photos.value = '';
  });
  const form = h(
    'div',
    { class: 'enroll' },
    label,
    card.target,
    h('button', { class: 'primary', type: 'button', onclick: () => void enroll(card, label.value, null) }, 'Enroll'),
    h('button', { type: 'button', onclick: () => clearBox(card) }, 'Clear box'),
    h('button', { type: 'button', onclick: () => photos.click() }, 'Photos…'),
    photos,
    h('span', { class: 'hint muted' }, 'Drag a box around an object, then choose what Enroll learns: the box, the zone it lies in, or the whole camera. Drop photos on the picture to enroll them.'),
  );
  card.stage.addEventListener('dragover', (e) => {
    e.preventDefault();
    card.stage.classList.add('over');
  });
  card.stage.addEventListener('dragleave', () => card.stage.classList.remove('over'));
  card.stage.addEventListener('drop', (e) => {
    e.preventDefault();
    card.stage.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (files.length > 0) void enroll(card, label.value, files);
  });
  return form;
}

/** jsmpeg on the camera's WebSocket; the latest snapshot stands in until the first frame. */
function startVideo(card: Card): () => void {
  const still = h('img', { class: 'still', alt: '' });
  card.stage.prepend(still);
  const refresh = () => {
    if (card.frames === 0) still.src = `api/cameras/${encodeURIComponent(card.camera.name)}.jpg?t=${Date.now()}`;
  };
  still.onerror = () => (still.hidden = true);
  still.onload = () => (still.hidden = false);
  refresh();
  const timer = setInterval(refresh, 2000);
  const JSMpeg = window.JSMpeg;
  if (card.camera.live && JSMpeg) {
    const url = new URL(card.camera.live, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    card.player = new JSMpeg.Player(url.href, {
      canvas: card.canvas,
      audio: false,
      autoplay: true,
      pauseWhenHidden: true,
      videoBufferSize: 1024 * 1024,
      reconnectInterval: 3,
      onVideoDecode: () => {
        card.frames += 1;
        card.canvas.dataset.frames = String(card.frames);
        if (card.frames === 1) {
          card.stage.classList.add('playing');
          if (!card.camera.source_size) drawRegions(card);
        }
      },
    });
  }
  return () => {
    clearInterval(timer);
    card.player?.destroy();
    card.player = null;
  };
}

function cameraCard(camera: CameraView): { el: HTMLElement; card: Card } {
  const canvas = h('canvas', { 'data-camera': camera.name, width: 640, height: 360 });
  const boxEl = h('div', { class: 'box', hidden: true });
  const stage = h('div', { class: 'stage drop', 'data-camera': camera.name }, canvas, boxEl);
  const badge = h('span', { class: `badge ${camera.status}` }, camera.status);
  const target = h('select', { name: 'target', 'aria-label': 'enroll from' });
  const card: Card = { camera, stage, canvas, badge, chips: new Map(), boxEl, box: null, target, player: null, frames: 0 };
  refreshTargets(card);
  const title = h('h2', {}, camera.name, badge, camera.enabled ? null : h('span', { class: 'badge' }, 'detection off'));
  const el = h('section', { class: 'card camera', 'data-camera': camera.name }, title, stage, enrollForm(card));
  drawRegions(card);
  enableBoxDrawing(card);
  return { el, card };
}

/** The region a class was found in, outlined with its label; removed when the unit's next result has none. */
function drawDetection(card: Card, r: { zone: string | null; label: string; box?: Box }): void {
  const key = unitKey(card.camera.name, r.zone);
  card.stage.querySelector(`.detection[data-unit="${CSS.escape(key)}"]`)?.remove();
  if (!r.box) return;
  const el = h('div', { class: 'detection', 'data-unit': key, 'data-label': r.label }, h('span', { class: 'chip' }, r.label));
  place(el, r.box);
  card.stage.appendChild(el);
}

export const mountLive: Mount = (el, ctx) => {
  const cards = new Map<string, Card>();
  const stops: Array<() => void> = [];
  let gone = false;
  const showResult = (r: { camera: string; zone: string | null; label: string; score: number; box?: Box }) => {
    const card = cards.get(r.camera);
    const chip = card?.chips.get(unitKey(r.camera, r.zone));
    if (!card || !chip) return;
    drawDetection(card, r);
    // none and unknown match no class: their score means nothing to a user.
    const matched = r.label !== 'none' && r.label !== 'unknown';
    chip.replaceChildren(r.zone ? `${r.zone}: ` : '', h('b', {}, r.label), matched ? ` ${score(r.score)}` : '');
    chip.dataset.label = r.label;
  };
  ctx.on('result', showResult);
  ctx.on('camera', (c) => {
    const card = cards.get(c.camera);
    if (card) {
      card.badge.textContent = c.status;
      card.badge.className = `badge ${c.status}`;
    }
  });
  void get('api/cameras').then((cameras) => {
    if (gone) return;
    const grid = h('div', { class: 'grid' });
    if (cameras.length === 0) grid.appendChild(h('p', { class: 'muted' }, 'No camera is configured (cameras: in config/config.yaml).'));
    for (const camera of cameras) {
      const { el: cardEl, card } = cameraCard(camera);
      cards.set(camera.name, card);
      grid.appendChild(cardEl);
      stops.push(startVideo(card));
    }
    el.appendChild(grid);
    for (const r of ctx.results()) showResult(r);
    ctx.ready();
  });
  return () => {
    gone = true;
    for (const stop of stops) stop();
  };
};
