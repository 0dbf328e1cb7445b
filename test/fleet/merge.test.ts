/**
 * The gallery's merge rules (src/fleet/merge.ts, replica.ts), pure:
 * - fate of records under removals, renames and undos; compaction's rule;
 * - property: the same set of gallery messages delivered in many seeded orders gives the
 *   same merged classes, and nodes that change classes concurrently while messages travel in
 *   random order all end with the same classes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStamp, observe, parseStamp, tick, type ClockState, type Stamp } from '../../src/fleet/hlc.js';
import { bake, compact, OpLog, type Op, type Placed } from '../../src/fleet/merge.js';
import { mergedClasses, Replica, type ContributionMeta, type ManifestMeta, type PlacedSettings, type RecordMeta } from '../../src/fleet/replica.js';

const s = (wall: number, node = 'a', counter = 0): Stamp => formatStamp({ wall, counter }, node);

describe('hybrid logical clock stamps', () => {
  it('order as text the way (wall, counter, node) orders', () => {
    assert.ok(s(2) > s(1));
    assert.ok(s(1, 'a', 2) > s(1, 'a', 1));
    assert.ok(s(1, 'b') > s(1, 'a'));
    assert.ok(s(10_000) > s(9_999));
    assert.deepEqual(parseStamp(s(1234, 'garage', 7)), { wall: 1234, counter: 7, node: 'garage' });
    assert.equal(parseStamp('1234.1@x'), null);
  });

  it('ticks past what it saw, even when the wall clock is behind', () => {
    let clock: ClockState = { wall: 0, counter: 0 };
    clock = tick(clock, 100);
    assert.deepEqual(clock, { wall: 100, counter: 0 });
    clock = observe(clock, { wall: 500, counter: 3 });
    clock = tick(clock, 120); // our wall clock is behind the stamp we saw
    assert.ok(formatStamp(clock, 'a') > formatStamp({ wall: 500, counter: 3 }, 'z'));
    assert.deepEqual(tick({ wall: 7, counter: 999_999 }, 1), { wall: 8, counter: 0 });
  });
});

describe('fate of a record', () => {
  const shot = (label: string, labelAt: Stamp, id = 'x'): Placed => ({ id, label, labelAt });

  it('a removal takes records carrying the label before it, not later ones', () => {
    const log = new OpLog([{ kind: 'remove', label: 'cat', at: s(5) }]);
    assert.deepEqual(log.fate(shot('cat', s(3))), { gone: true, by: s(5) });
    assert.deepEqual(log.fate(shot('cat', s(7))), { gone: false, label: 'cat', labelAt: s(7) });
    assert.deepEqual(log.fate(shot('dog', s(3))), { gone: false, label: 'dog', labelAt: s(3) });
  });

  it('a rename moves records, and what happens to the new label later applies to them', () => {
    const log = new OpLog([
      { kind: 'rename', label: 'cat', to: 'kitty', at: s(5) },
      { kind: 'remove', label: 'kitty', at: s(9) },
    ]);
    assert.deepEqual(log.fate(shot('cat', s(3))), { gone: true, by: s(9) });
    const later = new OpLog(log.ops.filter((op) => op.kind === 'rename'));
    assert.deepEqual(later.fate(shot('cat', s(3))), { gone: false, label: 'kitty', labelAt: s(5) });
  });

  it('operations stamped before labelAt are already part of the record (its owner moved it)', () => {
    // The owner applied the rename at 5; a removal of the OLD label at 4, heard late, no longer applies.
    const log = new OpLog([
      { kind: 'remove', label: 'cat', at: s(4) },
      { kind: 'rename', label: 'cat', to: 'kitty', at: s(5) },
    ]);
    assert.deepEqual(log.fate(shot('kitty', s(5))), { gone: false, label: 'kitty', labelAt: s(5) });
  });

  it('a drop takes one record by id, whatever its label', () => {
    const log = new OpLog([{ kind: 'drop', id: 'x', label: 'cat', at: s(5) }]);
    assert.equal(log.fate(shot('anything', s(9))).gone, true);
    assert.equal(log.fate(shot('cat', s(1), 'y')).gone, false);
  });

  it('bake lists what an owner deletes and moves', () => {
    const log = new OpLog([
      { kind: 'rename', label: 'cat', to: 'kitty', at: s(5) },
      { kind: 'drop', id: 'b', label: 'dog', at: s(6) },
    ]);
    const out = bake([shot('cat', s(1), 'a'), shot('dog', s(1), 'b'), shot('cat', s(8), 'c')], log);
    assert.deepEqual(out, { gone: ['b'], moved: [{ id: 'a', label: 'kitty', labelAt: s(5) }] });
  });
});

describe('compaction', () => {
  const DAY = 86_400_000;
  it('keeps young operations and old ones that still apply; drops the rest', () => {
    const now = 100 * DAY;
    const ops: Op[] = [
      { kind: 'remove', label: 'young', at: s(now - DAY) },
      { kind: 'remove', label: 'old_applies', at: s(now - 40 * DAY) },
      { kind: 'remove', label: 'old_idle', at: s(now - 40 * DAY, 'b') },
      { kind: 'drop', id: 'held', label: 'x', at: s(now - 50 * DAY) },
    ];
    const held: Placed[] = [
      { id: 'r1', label: 'old_applies', labelAt: s(now - 41 * DAY) },
      { id: 'held', label: 'x', labelAt: s(1) },
    ];
    const kept = compact(new OpLog(ops), held, now, 30 * DAY).map((op) => op.at);
    assert.deepEqual(kept.sort(), [ops[0]!.at, ops[1]!.at, ops[3]!.at].sort());
  });
});

// ---- property: order independence and convergence ----

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Message =
  | { kind: 'contribution'; meta: ContributionMeta }
  | { kind: 'manifest'; meta: ManifestMeta }
  | { kind: 'ops'; node: string; ops: Op[] };

const MODEL = 'm'.repeat(64);
const LABELS = ['cat', 'dog', 'fox', 'owl'];

/** A node as the gallery runs it, on the pure rules: local records, a replica, its own operations. */
class SimNode {
  private clock: ClockState = { wall: 0, counter: 0 };
  readonly replica = new Replica();
  private readonly records = new Map<string, RecordMeta & { label: string }>();
  private readonly settings = new Map<string, PlacedSettings>();
  private readonly ownOps: Op[] = [];
  private readonly published = new Map<string, { digest: string; version: Stamp }>();
  private ids = 0;

  constructor(
    readonly name: string,
    private readonly skew: number,
  ) {}

  private now(t: number): Stamp {
    this.clock = tick(this.clock, t + this.skew);
    return formatStamp(this.clock, this.name);
  }

  private see(stamp: Stamp): void {
    const p = parseStamp(stamp)!;
    this.clock = observe(this.clock, p);
  }

  view(): ReturnType<typeof mergedClasses> {
    return mergedClasses(this.replica.allContributions(), { records: [...this.records.values()], settings: [...this.settings].map(([label, v]) => ({ ...v, label })) }, this.replica.log(), this.name);
  }

  enroll(label: string, t: number, kind: 'shot' | 'negative' = 'shot'): Message[] {
    const at = this.now(t);
    const fleet = this.view().get(label);
    this.records.set(`${this.name}-${++this.ids}`, { id: `${this.name}-${this.ids}`, kind, at, labelAt: at, label });
    if (!this.settings.has(label)) {
      // A class new here adopts the fleet's settings with their stamp.
      this.settings.set(label, fleet?.settings ? { ...fleet.settings, labelAt: at } : { background: false, threshold: null, at, labelAt: at });
    }
    return this.publish(t);
  }

  set(label: string, threshold: number, t: number): Message[] {
    if (!this.view().has(label)) return [];
    const at = this.now(t);
    this.settings.set(label, { background: false, threshold, at, labelAt: at });
    return this.publish(t);
  }

  operate(op: 'remove' | 'rename' | 'undo', label: string, to: string, t: number): Message[] {
    const view = this.view();
    const cls = view.get(label);
    if (!cls || (op === 'rename' && (view.has(to) || to === label))) return [];
    const at = this.now(t);
    if (op === 'remove') this.ownOps.push({ kind: 'remove', label, at });
    else if (op === 'rename') this.ownOps.push({ kind: 'rename', label, to, at });
    else this.ownOps.push({ kind: 'drop', id: cls.records.filter((r) => r.kind === 'shot').at(-1)!.id, label, at });
    this.replica.applyOps(this.ownOps.slice(-1));
    this.bakeOwn(t);
    return [{ kind: 'ops', node: this.name, ops: [...this.ownOps] }, ...this.publish(t)];
  }

  receive(m: Message, t: number): Message[] {
    if (m.kind === 'contribution') {
      this.see(m.meta.version);
      this.replica.applyContribution(m.meta);
    } else if (m.kind === 'manifest') {
      this.see(m.meta.at);
      this.replica.applyManifest(m.meta);
    } else {
      m.ops.forEach((op) => this.see(op.at));
      if (this.replica.applyOps(m.ops).length === 0) return [];
      this.bakeOwn(t);
    }
    return this.publish(t);
  }

  /** The owner applies the operations to its own records and settings. */
  private bakeOwn(_t: number): void {
    const log = this.replica.log();
    const { gone, moved } = bake([...this.records.values()], log);
    for (const id of gone) this.records.delete(id);
    for (const m of moved) this.records.set(m.id, { ...this.records.get(m.id)!, label: m.label, labelAt: m.labelAt });
    for (const [label, st] of [...this.settings]) {
      const fate = log.fate({ id: `settings:${this.name}`, label, labelAt: st.labelAt });
      if (fate.gone || fate.label !== label) this.settings.delete(label);
      if (!fate.gone && fate.label !== label) {
        const there = this.settings.get(fate.label);
        if (!there || there.at < st.at) this.settings.set(fate.label, { ...st, labelAt: fate.labelAt });
      }
    }
  }

  /** Contributions that changed, then the manifest, as the real node publishes them. */
  private publish(t: number): Message[] {
    const labels = new Set([...[...this.records.values()].map((r) => r.label), ...this.settings.keys()]);
    const out: Message[] = [];
    for (const label of [...labels].sort()) {
      const records = [...this.records.values()].filter((r) => r.label === label).map(({ label: _l, ...r }) => r).sort((a, b) => (a.id < b.id ? -1 : 1));
      const settings = this.settings.get(label) ?? null;
      const digest = JSON.stringify({ records, settings });
      if (this.published.get(label)?.digest === digest) continue;
      const version = this.now(t);
      this.published.set(label, { digest, version });
      out.push({ kind: 'contribution', meta: { node: this.name, label, model: MODEL, version, settings, records } });
    }
    const gone = [...this.published.keys()].filter((l) => !labels.has(l));
    gone.forEach((l) => this.published.delete(l));
    if (out.length === 0 && gone.length === 0) return out;
    const entries = [...this.published].map(([label, p]) => ({ label, model: MODEL, version: p.version }));
    out.push({ kind: 'manifest', meta: { node: this.name, at: this.now(t), entries } });
    return out;
  }
}

/** A canonical text of merged classes: labels, record ids and settings. */
function canonical(view: ReturnType<typeof mergedClasses>): string {
  return JSON.stringify(
    [...view.values()]
      .sort((a, b) => (a.label < b.label ? -1 : 1))
      .map((c) => ({ label: c.label, ids: c.records.map((r) => r.id).sort(), settings: c.settings })),
  );
}

/** One run: three nodes change classes while messages travel in random order; returns every message and the end states. */
function simulate(seed: number): { messages: Message[]; finals: string[] } {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const nodes = [new SimNode('a', 0), new SimNode('b', 40), new SimNode('c', -60)];
  const inflight: Array<{ to: SimNode; m: Message }> = [];
  const all: Message[] = [];
  const send = (from: SimNode, ms: Message[]): void => {
    for (const m of ms) {
      all.push(m);
      for (const to of nodes) if (to !== from) inflight.push({ to, m });
    }
  };
  const deliverOne = (t: number): void => {
    const i = Math.floor(random() * inflight.length);
    const [{ to, m }] = inflight.splice(i, 1) as [{ to: SimNode; m: Message }];
    send(to, to.receive(m, t));
  };
  let t = 1_000;
  for (let step = 0; step < 60; step++) {
    t += Math.floor(random() * 20);
    const node = pick(nodes);
    const r = random();
    if (r < 0.35) send(node, node.enroll(pick(LABELS), t, random() < 0.8 ? 'shot' : 'negative'));
    else if (r < 0.45) send(node, node.operate('remove', pick(LABELS), '', t));
    else if (r < 0.6) send(node, node.operate('rename', pick(LABELS), pick(LABELS), t));
    else if (r < 0.7) send(node, node.operate('undo', pick(LABELS), '', t));
    else if (r < 0.75) send(node, node.set(pick(LABELS), Math.round(random() * 100) / 100, t));
    else for (let k = Math.floor(random() * 4); k > 0 && inflight.length > 0; k--) deliverOne(t);
  }
  while (inflight.length > 0) deliverOne((t += 1));
  return { messages: all, finals: nodes.map((n) => canonical(n.view())) };
}

describe('merge property (seeded)', () => {
  it('nodes changing classes concurrently end with the same classes', () => {
    let nonTrivial = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const { finals } = simulate(seed);
      assert.equal(finals[1], finals[0], `seed ${seed}: b differs from a`);
      assert.equal(finals[2], finals[0], `seed ${seed}: c differs from a`);
      if (finals[0] !== '[]') nonTrivial++;
    }
    assert.ok(nonTrivial > 100, `most runs end with classes (${nonTrivial})`);
  });

  it('the same messages in any order give the same merged classes', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { messages, finals } = simulate(seed);
      const random = rng(seed * 7919);
      for (let order = 0; order < 20; order++) {
        const shuffled = [...messages];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const observer = new Replica();
        for (const m of shuffled) {
          if (m.kind === 'contribution') observer.applyContribution(m.meta);
          else if (m.kind === 'manifest') observer.applyManifest(m.meta);
          else observer.applyOps(m.ops);
        }
        const view = mergedClasses(observer.allContributions(), { records: [], settings: [] }, observer.log(), 'observer');
        assert.equal(canonical(view), finals[0], `seed ${seed}, order ${order}`);
      }
    }
  });
});
