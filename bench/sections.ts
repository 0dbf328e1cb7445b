/** Adapters that put every benchmark's figures into the one report. */
import { runAccuracyBench } from './accuracy.js';
import { AUGMENTED, KEPT, runFieldBench } from './field.js';
import { runCameraBench } from './camera.js';
import { runZonesBench } from './zones.js';
import { runFieldLiveBench } from './fieldLive.js';
import { runPathsBench } from './paths.js';
import { runClassifyBench } from './classify.js';
import { runCliClassifyBench } from './cliClassify.js';
import { runEngineBench, runEnrollBench } from './engine.js';
import { runOnnxBench } from './onnx.js';
import { runDashboardBench } from './dashboard.js';
import { runLiveBench } from './live.js';
import { runFleetBench } from './fleet.js';
import { runEventsBench } from './events.js';
import { formatMqttBench, runMqttBench } from './mqtt.js';
import { ms, type Report } from './report.js';
import { startImprinting } from '../test/helpers/imprinting.js';
import { tempDir } from './setup.js';

export type Section = { name: string; run: (report: Report) => Promise<void> };

async function classifySection(report: Report): Promise<void> {
  const r = await runClassifyBench((line) => report.line(line));
  report.add({
    section: 'classifier',
    figure: 'classify with 1000 classes minus with 10 classes (median per call)',
    value: `${ms(r.ms1000)} − ${ms(r.ms10)} = ${ms(r.difference)}`,
    target: '≤ 1 ms',
    ok: r.ok,
  });
}

async function mqttSection(report: Report): Promise<void> {
  const dir = tempDir();
  const core = await startImprinting({ dataDir: dir.path });
  try {
    const r = await runMqttBench({ imprinter: core.imprinter, bus: core.bus });
    formatMqttBench(r).forEach((line) => report.line(`  ${line}`));
    const e = r.enroll_1080p;
    report.add({
      section: 'mqtt',
      figure: `enroll over MQTT, one 1080p JPEG, request → response, p50 / p95 of ${e.rounds}`,
      value: `${ms(e.p50_ms)} / ${ms(e.p95_ms)} (in-process: ${ms(e.direct_p50_ms)} / ${ms(e.direct_p95_ms)})`,
      target: '≤ 100 / 150 ms',
      ok: e.p50_ms <= 100 && e.p95_ms <= 150,
    });
    const c = r.classify;
    report.add({
      section: 'mqtt',
      figure: `sustained classify over MQTT (${c.concurrency} in flight, ${c.seconds} s)`,
      value: `${c.per_second.toFixed(1)} req/s, p95 ${ms(c.p95_ms)}, ${c.busy} busy (in-process: ${c.direct_per_second.toFixed(1)} req/s)`,
      target: 'reported',
    });
  } finally {
    await core.stop();
    dir.cleanup();
  }
}

async function accuracySection(report: Report): Promise<void> {
  const { rows, calibration, centred } = await runAccuracyBench((line) => report.line(line));
  const pctOf = (v: number): string => `${(100 * v).toFixed(1)} %`;
  const best = centred && centred.calibration.balancedAccuracy > calibration.balancedAccuracy ? centred : null;
  const chosen = best?.calibration ?? calibration;
  report.add({
    section: 'accuracy',
    figure: `photo-set open set, balanced accuracy (${best ? 'centred' : 'raw'}, threshold ${chosen.threshold} / margin ${chosen.margin}, Coral check passing)`,
    value: `(${pctOf(chosen.knownCorrect)} known correct + ${pctOf(chosen.unknownRejected)} unknown rejected) / 2 = ${pctOf(chosen.balancedAccuracy)} (raw: ${pctOf(calibration.balancedAccuracy)})`,
    target: '≥ 75 %',
    ok: chosen.balancedAccuracy >= 0.75 && (best ? best.coral.passed : true),
  });
  for (const k of [5, 10, 20]) {
    const atK = rows.filter((r) => r.shots === k);
    if (atK.length === 0) continue;
    const pct = (v: number): string => (100 * v).toFixed(1);
    const worst = 100 * Math.min(...atK.map((r) => r.accuracy['fine-tuned'] - r.accuracy.imprint));
    // Every row is also printed in full above (imprint, 1-NN, multi-proxy, fine-tuned).
    report.add({
      section: 'accuracy',
      figure: `fine-tuned minus imprint, ${k}-shot (worst of ${atK.map((r) => `${r.ways}-way`).join(', ')})`,
      value: atK.map((r) => `${pct(r.accuracy['fine-tuned'])} % − ${pct(r.accuracy.imprint)} %`).join('; ') + ` → ${worst >= 0 ? '+' : ''}${worst.toFixed(1)} points`,
      target: '≥ 0 at K ≥ 5',
      ok: worst >= 0,
    });
  }
}

async function fieldSection(report: Report): Promise<void> {
  const sets = await runFieldBench((line) => report.line(line));
  for (const { name, rows } of sets) {
    const kept = rows.find((r) => r.name === KEPT)!.o;
    const noCorrections = rows.find((r) => r.name === AUGMENTED)!.o;
    const pctOf = (n: number, d: number): string => `${((100 * n) / Math.max(1, d)).toFixed(1)} %`;
    const cost = (100 * (noCorrections.recalled - kept.recalled)) / Math.max(1, kept.enrolled);
    report.add({
      section: 'field',
      figure: `${name}: enrolled appearances reported with the right label (kept mechanisms)`,
      value: `${kept.recalled}/${kept.enrolled} = ${pctOf(kept.recalled, kept.enrolled)}; false starts on the empty scene ${kept.emptyStarts}; wrong labels ${kept.wrongLabel}`,
      target: '≥ 85 %, 0, 0',
      ok: kept.recalled >= 0.85 * kept.enrolled && kept.emptyStarts === 0 && kept.wrongLabel === 0,
    });
    report.add({
      section: 'field',
      figure: `${name}: never-enrolled objects starting an event the first time; after one reject; recall cost of the corrections`,
      value: `${kept.strangerFirstStarts}/${kept.strangerFirst}; ${kept.rejectedLaterStarts}/${kept.rejectedLater}; ${cost.toFixed(1)} points`,
      target: '≤ 1/3; 0; ≤ 5 points',
      ok: kept.strangerFirstStarts * 3 <= kept.strangerFirst && kept.rejectedLaterStarts === 0 && cost <= 5,
    });
  }
}

export const SECTIONS: Section[] = [
  { name: 'engine', run: runEngineBench },
  { name: 'onnx', run: runOnnxBench },
  { name: 'enroll', run: runEnrollBench },
  { name: 'classify', run: classifySection },
  { name: 'cli-classify', run: runCliClassifyBench },
  { name: 'mqtt', run: mqttSection },
  { name: 'camera', run: runCameraBench },
  { name: 'zones', run: runZonesBench },
  { name: 'live', run: runLiveBench },
  { name: 'dashboard', run: runDashboardBench },
  { name: 'fleet', run: runFleetBench },
  { name: 'events', run: runEventsBench },
  { name: 'accuracy', run: accuracySection },
  { name: 'field', run: fieldSection },
  { name: 'field-live', run: runFieldLiveBench },
  { name: 'paths', run: runPathsBench },
];
