/** The dashboard's entry: the session, the live updates (server-sent events) and the page router. */
import { logout, session } from './api.js';
import type { StreamEvents } from '../apiTypes.js';
import { mountClasses } from './classes.js';
import { clear, h, toast } from './dom.js';
import { mountEvents } from './events.js';
import { mountLive } from './live.js';
import { mountStatus } from './status.js';

type Listener<K extends keyof StreamEvents> = (data: StreamEvents[K]) => void;

/** What a page gets: the live updates, and a way to say it has drawn its data (tests, benchmarks). */
export interface PageContext {
  on<K extends keyof StreamEvents>(event: K, listener: Listener<K>): void;
  /** The latest label of every camera/zone (results that came before the page was drawn). */
  results(): Array<StreamEvents['result']>;
  ready(): void;
}

/** Mounts a page into `el`; returns its unmount (closes its players, timers and listeners). */
export type Mount = (el: HTMLElement, ctx: PageContext) => () => void;

const PAGES: Record<string, Mount> = { live: mountLive, classes: mountClasses, events: mountEvents, status: mountStatus };
const EVENTS: Array<keyof StreamEvents> = ['result', 'camera', 'classes', 'detection', 'detector'];

const listeners = new Map<string, Set<(data: unknown) => void>>();
const latestResults = new Map<string, StreamEvents['result']>();

function connectUpdates(): void {
  const dot = document.getElementById('conn');
  const source = new EventSource('api/stream');
  source.onopen = () => dot?.classList.add('on');
  source.onerror = () => dot?.classList.remove('on');
  for (const name of EVENTS) {
    source.addEventListener(name, (e) => {
      const data: unknown = JSON.parse((e as MessageEvent<string>).data);
      if (name === 'result') {
        const r = data as StreamEvents['result'];
        latestResults.set(`${r.camera}/${r.zone ?? ''}`, r);
      }
      for (const fn of listeners.get(name) ?? []) fn(data);
    });
  }
}

let unmount: (() => void) | null = null;

function route(): void {
  const name = /^#\/(\w+)/.exec(location.hash)?.[1] ?? 'live';
  const mount = PAGES[name] ?? mountLive;
  unmount?.();
  listeners.clear();
  document.body.dataset.ready = '';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('on', a.dataset.page === name);
  const el = document.getElementById('page');
  if (!el) return;
  clear(el);
  const ctx: PageContext = {
    on: (event, listener) => {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (data: unknown) => void);
      listeners.set(event, set);
    },
    results: () => [...latestResults.values()],
    ready: () => {
      if (document.body.dataset.ready === name) return;
      document.body.dataset.ready = name;
      performance.mark(`ready:${name}`);
    },
  };
  unmount = mount(el, ctx);
}

async function boot(): Promise<void> {
  try {
    const info = await session();
    document.title = `edge-imprint · ${info.node_id}`;
    const out = document.getElementById('logout');
    if (out && info.session) {
      out.hidden = false;
      out.addEventListener('click', () => void logout());
    }
  } catch (err) {
    const el = document.getElementById('page');
    if (el) el.appendChild(h('p', { class: 'error' }, `The agent did not answer: ${String(err)}`));
    return;
  }
  connectUpdates();
  window.addEventListener('hashchange', route);
  route();
}

window.addEventListener('unhandledrejection', (e) => toast(String((e.reason as Error)?.message ?? e.reason), 'error'));
void boot();
