/**
 * The salient-object model's own process (imprinting/salientModel.ts forks it when a photo is
 * enrolled and stops it after a minute idle): ONNX Runtime and the model's activations stay
 * out of the agent's memory, and all of it is given back when this process exits.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { SALIENT_SIDE, salientInput, salientMap, type SalientReply, type SalientRequest } from './salientModel.js';

let session: Promise<InferenceSession> | null = null;

async function answer(req: SalientRequest): Promise<SalientReply> {
  const ort = await import('onnxruntime-node');
  session ??= ort.InferenceSession.create(req.modelPath, { intraOpNumThreads: 1, enableCpuMemArena: false });
  let s: InferenceSession;
  try {
    s = await session;
  } catch (err) {
    return { id: req.id, error: err instanceof Error ? err.message : String(err), fatal: true };
  }
  const input = new ort.Tensor('float32', salientInput(req.rgb), [1, 3, SALIENT_SIDE, SALIENT_SIDE]);
  const out = await s.run({ [s.inputNames[0]!]: input });
  return { id: req.id, map: salientMap(out[s.outputNames[0]!]!.data as Float32Array) };
}

process.on('message', (req: SalientRequest) => {
  answer(req).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ id: req.id, error: err instanceof Error ? err.message : String(err), fatal: false }),
  );
});
// The agent went away: nothing left to answer.
process.on('disconnect', () => process.exit(0));
