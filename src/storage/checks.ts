/** What the class store refuses before it writes anything. */
import { AppError } from '../errors.js';
import { allFinite, isWellFormedText } from './codec.js';
import type { NewShot } from '../recognition/types.js';

export function checkText(field: string, value: string, code: 'bad_label' | 'bad_request' = 'bad_request'): void {
  if (typeof value !== 'string' || !isWellFormedText(value)) {
    throw new AppError(code, `${field}: not a valid Unicode string`);
  }
}

/** Checks the shots of one enrollment and returns their common embedding length. */
export function checkShots(shots: NewShot[]): number {
  const first = shots[0];
  if (!first) throw new AppError('bad_request', 'shots: at least one shot is required');
  const dim = first.embedding.length;
  if (dim === 0) throw new AppError('bad_request', 'shots: empty embedding');
  shots.forEach((shot, i) => {
    if (shot.embedding.length !== dim) {
      throw new AppError('bad_request', `shots[${i}].embedding: length ${shot.embedding.length}, expected ${dim}`);
    }
    if (!allFinite(shot.embedding)) throw new AppError('bad_request', `shots[${i}].embedding: not finite`);
    if (shot.object && (shot.object.length !== dim || !allFinite(shot.object))) throw new AppError('bad_request', `shots[${i}].object: length ${shot.object.length} or values differ from its embedding's`);
    if (!Buffer.isBuffer(shot.thumbnail)) throw new AppError('bad_request', `shots[${i}].thumbnail: not a Buffer`);
    checkText(`shots[${i}].source`, shot.source);
  });
  return dim;
}
