// TEMPORARY development stand-in until test/helpers/imprinting.ts (real models) lands.
import { AppError } from '../../src/errors.js';
import type { EventBus } from '../../src/eventBus.js';
import type { Imprinter } from '../../src/imprinting/imprinter.js';
import type { ClassInfo } from '../../src/imprinting/types.js';

export function stubImprinter(bus: EventBus): Imprinter {
  const classes = new Map<string, ClassInfo>();
  const changed = () => bus.emit('classesChanged', { labels: [...classes.keys()] });
  const add = (label: string, n: number, background: boolean) => {
    const now = new Date().toISOString();
    const c = classes.get(label) ?? { label, shots: 0, background, created_at: now, updated_at: now };
    c.shots += n;
    classes.set(label, c);
    changed();
    return { label, shots: c.shots, added: n };
  };
  const need = (label: string) => {
    const c = classes.get(label);
    if (!c) throw new AppError('not_found', `label: no class named "${label}"`);
    return c;
  };
  return {
    enrollImages: async (label, images, o) => add(label, images.length, o.background ?? false),
    enrollPixels: async (label, shots, o) => add(label, shots.length, o.background ?? false),
    classifyImage: async () => ({ label: 'unknown', score: 0.1, scores: {} }),
    classifyPixels: async () => ({ label: 'unknown', score: 0.1, scores: {} }),
    list: () => [...classes.values()],
    remove: (label) => {
      need(label);
      classes.delete(label);
      changed();
      return { label };
    },
    rename: (label, to) => {
      const c = need(label);
      if (classes.has(to)) throw new AppError('conflict', `to: class "${to}" exists`);
      classes.delete(label);
      classes.set(to, { ...c, label: to });
      changed();
      return { label, to };
    },
    undo: (label) => {
      const c = need(label);
      c.shots -= 1;
      if (c.shots === 0) classes.delete(label);
      changed();
      return { label, shots: c.shots };
    },
  };
}
