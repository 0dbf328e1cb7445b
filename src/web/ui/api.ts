/**
 * The dashboard's API, always addressed relative to the page (so it works under a reverse
 * proxy's or Home Assistant ingress' prefix). Writes carry the CSRF token the session gave.
 */
import type { ApiReads, CommandAnswer, SessionInfo } from '../apiTypes.js';

type Query = Record<string, string | number | undefined>;
type ListPath = { [P in keyof ApiReads]: ApiReads[P] extends CommandAnswer ? P : never }[keyof ApiReads];
type ListData<P extends ListPath> = ApiReads[P] extends CommandAnswer<infer T> ? T : never;

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
  const info = await get('api/session');
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

export async function get<P extends keyof ApiReads>(path: P, query: Query = {}): Promise<ApiReads[P]> {
  const res = await fetch(withQuery(path, query), { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) return refused(res);
  return (await res.json()) as ApiReads[P];
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
export async function list<P extends ListPath>(path: P, query: Query = {}): Promise<ListData<P>> {
  const answer = (await get(path, query)) as CommandAnswer<ListData<P>>;
  if (answer.status !== 'ok') throw new ApiError(answer.error ?? 'failed', 200, answer.code);
  return answer.data as ListData<P>;
}

/** The path with its query, empty values left out. */
function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function logout(): Promise<void> {
  await fetch('logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Edge-Imprint-CSRF': csrf ?? '' } });
  location.reload();
}
