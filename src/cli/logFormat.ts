/**
 * Readable log lines for a terminal: `12:00:01.234 WARN  camera door: camera offline
 * retry_ms=500`. pino writes JSON lines; this turns each into one line of text (pure).
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'part', 'camera']);

function field(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value) return JSON.stringify((value as { message: unknown }).message);
  return JSON.stringify(value);
}

export function formatLogLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[Number(entry.level)] ?? String(entry.level);
  const where = [entry.part, entry.camera].filter((v) => typeof v === 'string').join(' ');
  const extras = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${field(value)}`);
  const message = String(entry.msg ?? '');
  return [time, level, where ? `${where}:` : '', message, ...extras].filter((s) => s !== '').join(' ');
}

/** A pino destination that prints formatted lines to a stream. */
export function prettyDestination(out: NodeJS.WritableStream): { write(chunk: string): void } {
  return { write: (chunk) => void out.write(`${formatLogLine(chunk)}\n`) };
}
