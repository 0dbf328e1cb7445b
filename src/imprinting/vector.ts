/** Small dense-vector helpers for embeddings (Float32Array, fixed length). */

export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  // An all-zero vector stays zero rather than becoming NaN: it matches nothing.
  if (norm === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function addInto(target: Float32Array, v: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i]! += v[i]!;
}
