import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { valueWithin } from '../process/timeout.js';

/**
 * Does an MQTT broker answer at host:port? A real 3.1.1 CONNECT (every broker speaks it) and
 * its CONNACK, so no other program on the port is ever taken for a broker.
 */
export type ProbeResult =
  /** Nothing listens there (or it cannot be reached). */
  | { kind: 'none'; reason: string }
  /** An MQTT broker accepted the login. */
  | { kind: 'broker' }
  /** An MQTT broker answered and refused the login; `code` is the CONNACK return code. */
  | { kind: 'refused'; code: number; reason: string }
  /** Something listens there but did not answer like an MQTT broker. */
  | { kind: 'not_mqtt'; reason: string };

export interface ProbeOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** For the whole exchange: connecting, CONNECT, CONNACK. */
  timeoutMs?: number;
}

const REFUSALS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

/** CONNACK return codes that mean "wrong or missing credentials". */
export const AUTH_REFUSALS = new Set([4, 5]);

function mqttString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** An MQTT 3.1.1 CONNECT packet with a clean session. Pure. */
export function connectPacket(clientId: string, username?: string, password?: string): Buffer {
  // 3.1.1 allows a password only after a user name.
  const withPassword = Boolean(username) && password !== undefined && password !== '';
  const flags = 0x02 | (username ? 0x80 : 0) | (withPassword ? 0x40 : 0);
  const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([4, flags, 0, 10])]);
  const payload = Buffer.concat([
    mqttString(clientId),
    ...(username ? [mqttString(username)] : []),
    ...(withPassword ? [mqttString(password!)] : []),
  ]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** What the first bytes from the listener say, or null while fewer than 4 have come. Pure. */
export function readConnack(bytes: Buffer): ProbeResult | null {
  if (bytes.length > 0 && bytes[0] !== 0x20) {
    return { kind: 'not_mqtt', reason: 'it answered with bytes that are not an MQTT CONNACK' };
  }
  if (bytes.length < 4) return null;
  if (bytes[1] !== 0x02) return { kind: 'not_mqtt', reason: 'it answered with a malformed MQTT CONNACK' };
  const code = bytes[3]!;
  if (code === 0) return { kind: 'broker' };
  return { kind: 'refused', code, reason: REFUSALS[code] ?? `CONNACK return code ${code}` };
}

export async function probeBroker(opts: ProbeOptions): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const socket = connect({ host: opts.host, port: opts.port });
  const progress = { connected: false };
  const result = await valueWithin(answerOf(socket, opts, progress), timeoutMs, (): ProbeResult =>
    progress.connected
      ? { kind: 'not_mqtt', reason: `no MQTT answer within ${timeoutMs} ms` }
      : { kind: 'none', reason: `no connection within ${timeoutMs} ms` },
  );
  socket.removeAllListeners();
  socket.on('error', () => undefined);
  if (result.kind === 'broker') socket.end(Buffer.from([0xe0, 0x00]));
  else socket.destroy();
  return result;
}

/** The listener's answer to a CONNECT, or how the connection ended without one. */
function answerOf(socket: Socket, opts: ProbeOptions, progress: { connected: boolean }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    socket.once('connect', () => {
      progress.connected = true;
      const clientId = `ei-probe-${randomBytes(4).toString('hex')}`;
      socket.write(connectPacket(clientId, opts.username, opts.password));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const result = readConnack(received);
      if (result) resolve(result);
    });
    socket.once('close', () => {
      resolve(
        progress.connected
          ? { kind: 'not_mqtt', reason: 'it closed the connection without an MQTT answer' }
          : { kind: 'none', reason: 'connection closed' },
      );
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // After connecting, an error (e.g. a reset) is one more way of not answering MQTT.
      resolve(progress.connected ? { kind: 'not_mqtt', reason: err.code ?? err.message } : { kind: 'none', reason: err.code ?? err.message });
    });
  });
}
