/**
 * The dashboard's API, always addressed relative to the page (so it works under a reverse
 * proxy's or Home Assistant ingress' prefix). Writes carry the CSRF token the session gave.
 */
import type { CommandAnswer, SessionInfo } from './apiTypes.js';

let csrf: string | null = null;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export async function session(): Promise<SessionInfo> {
  const info = await get<SessionInfo>('api/session');
  csrf = info.csrf;
  return info;
}

async function refused(res: Response): Promise<never> {
  if (res.status === 401) location.reload(); // the session ended: the login page comes back
  let message = `${res.status} ${res.statusText}`;
  let code: string | undefined;
  try {
    const body = (await res.json()) as CommandAnswer;
    message = body.error ?? message;
    code = body.code;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(message, res.status, code);
}

export async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) return refused(res);
  return (await res.json()) as T;
}

/** A command as MQTT has it (`class/enroll`, `event/confirm`, ...); resolves with its `data`. */
export async function command<T = unknown>(name: string, payload: unknown): Promise<T> {
  const res = await fetch(`api/command/${name}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Edge-Imprint-CSRF': csrf ?? '' },
    body: JSON.stringify(payload),
  });
  if (!res.ok) return refused(res);
  const answer = (await res.json()) as CommandAnswer<T>;
  if (answer.status !== 'ok') throw new ApiError(answer.error ?? 'failed', res.status, answer.code);
  return answer.data as T;
}

/** A list through a command's lane (GET api/classes, api/events): the answer's data. */
export async function list<T>(path: string): Promise<T> {
  const answer = await get<CommandAnswer<T>>(path);
  if (answer.status !== 'ok') throw new ApiError(answer.error ?? 'failed', 200, answer.code);
  return answer.data as T;
}

export async function logout(): Promise<void> {
  await fetch('logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Edge-Imprint-CSRF': csrf ?? '' } });
  location.reload();
}
