/**
 * Errors a user can cause or fix. `code` is stable (tests and MQTT clients match on it);
 * `message` is one line naming the field or file at fault, and never contains a secret.
 */
export type ErrorCode =
  | 'bad_request' // malformed payload, wrong type, missing field
  | 'bad_label' // invalid or reserved label
  | 'bad_image' // not an image, truncated, empty
  | 'too_large' // payload or decoded image over the limits
  | 'not_found' // unknown class or camera
  | 'conflict' // e.g. rename onto an existing class
  | 'busy' // work queue full
  | 'model_missing' // model file absent or corrupt
  | 'model_changed' // stored embeddings come from another model
  | 'detector_unavailable' // inference child down or timed out
  | 'config' // invalid configuration
  | 'storage'; // disk full, database locked

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
