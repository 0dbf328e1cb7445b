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
  | 'busy' // lane full, or the agent is stopping
  | 'timeout' // the request's deadline (limits.request_timeout_s) passed; its work was cancelled
  | 'model_missing' // model file absent or corrupt
  | 'model_changed' // stored embeddings come from another model
  | 'detector_unavailable' // inference child down or timed out
  | 'config' // invalid configuration
  | 'storage'; // disk full, database locked

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field or file at fault (`label`, `images[2]`), when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** An error about one field: the message starts with the field, and `field` carries it. */
export function fieldError(code: ErrorCode, field: string, problem: string): AppError {
  return new AppError(code, `${field}: ${problem}`, field);
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
