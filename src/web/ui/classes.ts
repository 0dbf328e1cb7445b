/** Classes: every class with its shots' thumbnails, and the class and shot commands. */
import { command, get, list } from './api.js';
import type { ClassView, ShotView } from '../apiTypes.js';
import { clear, h, score, toast } from './dom.js';
import type { Mount } from './main.js';

/** What each threshold_source means, as the badge's tooltip. */
const THRESHOLD_SOURCES: Record<ClassView['threshold_source'], string> = {
  learned: 'threshold in effect, learned from the shots (above the closest other class)',
  set: 'threshold in effect, set by hand ("From data" learns it again)',
  floor: 'threshold in effect: the floor (classifier.threshold); nothing close enough to raise it',
};

async function run(what: string, work: () => Promise<unknown>, reload: () => void): Promise<void> {
  try {
    await work();
    toast(what);
  } catch (err) {
    toast(`${what.replace(/\.$/, '')} failed: ${(err as Error).message}`, 'error');
  }
  reload();
}

function thumbs(c: ClassView, shots: ShotView[], reload: () => void): HTMLElement {
  const box = h('div', { class: 'thumbs', 'data-label': c.label });
  for (const shot of shots) {
    const remove = () => void run(`Shot ${shot.id} deleted.`, () => command('shot/remove', { id: shot.id }), reload);
    box.appendChild(
      h(
        'div',
        { class: 'thumb', 'data-shot': shot.id },
        h('img', { src: `api/shots/${shot.id}.jpg`, alt: `${c.label}, shot ${shot.id} (${shot.source})`, loading: 'lazy', title: shot.source }),
        h('button', { type: 'button', class: 'delete', title: 'Delete this shot', 'aria-label': `Delete shot ${shot.id}`, onclick: remove }, '×'),
      ),
    );
  }
  return box;
}

function controls(c: ClassView, reload: () => void): HTMLElement {
  const newName = h('input', { type: 'text', placeholder: 'new name', 'aria-label': 'new name', maxlength: 64 });
  const threshold = h('input', { type: 'number', min: 0, max: 1, step: 0.01, value: score(c.threshold), 'aria-label': 'threshold' });
  const rename = () => void run(`Renamed "${c.label}".`, () => command('class/rename', { label: c.label, to: newName.value }), reload);
  const remove = () => {
    if (confirm(`Remove the class "${c.label}" and its ${c.shots} shots?`)) void run(`Removed "${c.label}".`, () => command('class/remove', { label: c.label }), reload);
  };
  const setThreshold = () => void run(`Threshold of "${c.label}" set.`, () => command('class/set', { label: c.label, threshold: Number(threshold.value) }), reload);
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', onclick: () => void run(`Latest shot of "${c.label}" taken back.`, () => command('class/undo', { label: c.label }), reload) }, 'Undo last shot'),
      h('button', { type: 'button', onclick: () => void run(`"${c.label}" updated.`, () => command('class/set', { label: c.label, background: !c.background }), reload) }, c.background ? 'Not background' : 'Mark as background'),
      h('button', { type: 'button', class: 'danger', onclick: remove }, 'Remove'),
    ),
    h('div', { class: 'row' }, newName, h('button', { type: 'button', onclick: rename }, 'Rename')),
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Threshold ', threshold),
      h('button', { type: 'button', onclick: setThreshold }, 'Set'),
      h('button', { type: 'button', onclick: () => void run(`Threshold of "${c.label}" reset.`, () => command('class/set', { label: c.label, threshold: null }), reload) }, 'From data'),
    ),
  );
}

function classCard(c: ClassView, shots: ShotView[], reload: () => void): HTMLElement {
  return h(
    'section',
    { class: 'card class', 'data-label': c.label },
    h(
      'h2',
      {},
      c.label,
      h('span', { class: 'badge', 'data-shots': c.shots }, `${c.shots} shot${c.shots === 1 ? '' : 's'}`),
      h('span', { class: 'badge', title: THRESHOLD_SOURCES[c.threshold_source], 'data-threshold-source': c.threshold_source }, `threshold ${score(c.threshold)} (${c.threshold_source})`),
      c.background ? h('span', { class: 'badge' }, 'background') : null,
      c.origin ? h('span', { class: 'badge', title: 'enrolled on' }, c.origin) : null,
    ),
    thumbs(c, shots, reload),
    controls(c, reload),
  );
}

export const mountClasses: Mount = (el, ctx) => {
  let gone = false;
  const grid = h('div', { class: 'grid' });
  el.appendChild(grid);
  let timer: number | undefined;
  // A change answers the click and also comes as a live update: draw once for both.
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(draw, 80);
  };
  // Each card is drawn with its shots already fetched, and only the latest draw lands: the page
  // never shows a gallery empty while its thumbnails load, nor an older state after a newer one.
  let drawn = 0;
  const draw = () => {
    const mine = ++drawn;
    void list('api/classes')
      .then((classes) => Promise.all(classes.map(async (c) => ({ c, shots: await get('api/shots', { label: c.label }) }))))
      .then((cards) => {
        if (gone || mine !== drawn) return;
        clear(grid);
        if (cards.length === 0) grid.appendChild(h('p', { class: 'muted' }, 'No class yet: enroll one from the Live page.'));
        for (const { c, shots } of cards) grid.appendChild(classCard(c, shots, reload));
        ctx.ready();
      });
  };
  ctx.on('classes', reload);
  draw();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
};
