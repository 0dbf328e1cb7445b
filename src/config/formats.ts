import { isIP } from 'node:net';
import { labelProblem } from '../recognition/labels.js';

/**
 * Value formats of the configuration schema: a validator that throws a short message, and a
 * converter that turns an environment string into the typed value. Converters never throw
 * and return the string unchanged when it does not parse, so the validator reports it.
 */

export type FormatName = 'ei_string' | 'ei_int' | 'ei_number' | 'ei_bool' | 'ei_auto_bool' | 'ei_args' | 'ei_ips' | 'ei_roi' | 'ei_mqtt_url' | 'ei_camera_url' | 'ei_labels';

/** A region of a frame: source pixels, or fractions of the frame when every value is ≤ 1. */
export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A region given as fractions of the frame: every value at most 1. */
export function isFractional(roi: Roi): boolean {
  return roi.x <= 1 && roi.y <= 1 && roi.width <= 1 && roi.height <= 1;
}

/** URL schemes mqtt.js connects with; the one list both the schema and the connection use. */
export const MQTT_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'ssl', 'tls'] as const;

/** Why an MQTT broker URL cannot be used, or null. Never quotes the URL (it may hold a password). */
export function mqttUrlProblem(url: string): string | null {
  const hint = `must be empty or a URL like mqtt://host:1883 (${MQTT_SCHEMES.join(', ')})`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return hint;
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!(MQTT_SCHEMES as readonly string[]).includes(scheme)) return `unsupported scheme "${scheme}"; ${hint}`;
  if (parsed.hostname === '') return `has no host; ${hint}`;
  return null;
}

/** URL schemes a camera's ffmpeg input is built for (src/camera/ffmpegArgs.ts inputKind). */
export const CAMERA_SCHEMES = ['rtsp', 'rtsps', 'http', 'https', 'v4l2', 'file'] as const;

const NETWORK_SCHEMES = new Set(['rtsp', 'rtsps', 'http', 'https']);

/**
 * Why a camera URL cannot be opened, or null: ffmpeg would otherwise only say "Did you mean
 * file:htp://" at run time. A string with no scheme is a file path. Never quotes the URL.
 */
export function cameraUrlProblem(url: string): string | null {
  const hint = 'use rtsp://, rtsps://, http(s)://, a file path or a V4L2 device (/dev/video0 or v4l2:///dev/video0)';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return null;
  if (!(CAMERA_SCHEMES as readonly string[]).includes(scheme)) return `unsupported URL scheme "${scheme}"; ${hint}`;
  if (!NETWORK_SCHEMES.has(scheme)) return null;
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    return `is not a valid ${scheme}:// URL; ${hint}`;
  }
  return host === '' ? `has no host; ${hint}` : null;
}

/** One configuration key. `doc` is what config/config.example.yaml says about it. */
export interface LeafSpec {
  doc: string;
  format: FormatName;
  default: unknown;
  /** Environment variable, filled in by the schema builder (`EDGE_IMPRINT_` + path). */
  env?: string;
  /** Never show the value (passwords). */
  sensitive?: boolean;
  /** Show the value with URL credentials replaced. */
  redactUrl?: boolean;
  min?: number;
  max?: number;
  values?: readonly (string | number)[];
  /** For strings: allowed shape, with the words that explain it. */
  pattern?: RegExp;
  patternHint?: string;
  allowEmpty?: boolean;
  maxLength?: number;
}

function fail(message: string): never {
  throw new Error(message);
}

function checkRange(x: number, spec: LeafSpec): void {
  const { min, max } = spec;
  if (min !== undefined && max !== undefined && (x < min || x > max)) fail(`must be from ${min} to ${max}`);
  if (min !== undefined && x < min) fail(`must be at least ${min}`);
  if (max !== undefined && x > max) fail(`must be at most ${max}`);
}

function checkValues(x: string | number, spec: LeafSpec): void {
  if (spec.values && !spec.values.includes(x)) fail(`must be one of ${spec.values.join(', ')}`);
}

const ROI_KEYS = ['x', 'y', 'width', 'height'] as const;

function validateRoi(x: unknown): void {
  if (x === null) return;
  const hint = 'must be empty or {x, y, width, height} in source pixels, or all as fractions (0-1) of the frame';
  if (typeof x !== 'object' || Array.isArray(x)) fail(hint);
  const record = x as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !(ROI_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) fail(`unknown key ${unknown.join(', ')}; ${hint}`);
  for (const key of ROI_KEYS) {
    const v = record[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key} ${v === undefined ? 'is missing' : 'must be a number'}; ${hint}`);
    if (v < 0 || ((key === 'width' || key === 'height') && v === 0)) fail(`${key} must be ${key.length === 1 ? 'at least 0' : 'above 0'}`);
  }
}

export const VALIDATORS: Record<FormatName, (x: unknown, spec: LeafSpec) => void> = {
  ei_string(x, spec) {
    if (typeof x !== 'string') fail('must be a string');
    if (x === '' && !spec.allowEmpty && !spec.values) fail('must not be empty');
    checkValues(x, spec);
    if (spec.maxLength !== undefined && x.length > spec.maxLength) fail(`must be at most ${spec.maxLength} characters`);
    if (spec.pattern && x !== '' && !spec.pattern.test(x)) fail(spec.patternHint ?? 'has an invalid format');
  },
  ei_int(x, spec) {
    if (typeof x !== 'number' || !Number.isInteger(x)) fail('must be an integer');
    checkValues(x, spec);
    checkRange(x, spec);
  },
  ei_number(x, spec) {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail('must be a number');
    checkRange(x, spec);
  },
  ei_bool(x) {
    if (typeof x !== 'boolean') fail('must be true or false');
  },
  ei_auto_bool(x) {
    if (x !== 'auto' && typeof x !== 'boolean') fail('must be auto, true or false');
  },
  ei_args(x) {
    if (!Array.isArray(x) || !x.every((a) => typeof a === 'string')) fail('must be a list of strings');
  },
  ei_ips(x) {
    if (!Array.isArray(x)) fail('must be a list of IP addresses');
    x.forEach((ip, i) => {
      if (typeof ip !== 'string' || isIP(ip) === 0) fail(`item ${i + 1} (${JSON.stringify(ip)}) is not an IP address`);
    });
  },
  ei_roi(x) {
    validateRoi(x);
  },
  ei_labels(x) {
    if (!Array.isArray(x)) fail('must be a list of class labels');
    x.forEach((label, i) => {
      const problem = labelProblem(label);
      if (problem) fail(`item ${i + 1} (${JSON.stringify(label)}) ${problem}`);
    });
    if (new Set(x).size !== x.length) fail('lists a class twice');
  },
  ei_mqtt_url(x) {
    if (typeof x !== 'string') fail('must be a string');
    const problem = x === '' ? null : mqttUrlProblem(x);
    if (problem) fail(problem);
  },
  ei_camera_url(x) {
    if (typeof x !== 'string') fail('must be a string');
    const problem = cameraUrlProblem(x);
    if (problem) fail(problem);
  },
};

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function toNumber(s: string, integer: boolean): number | string {
  const t = s.trim();
  if (t === '') return s;
  const n = Number(t);
  if (!Number.isFinite(n) || (integer && !/^[-+]?\d+$/.test(t))) return s;
  return n;
}

function toRoi(s: string): unknown {
  const t = s.trim();
  if (t === '' || t === 'null' || t === 'none') return null;
  const parts = t.split(',').map((p) => p.trim());
  if (parts.length === 4 && parts.every((p) => /^\d+(\.\d+)?$|^\.\d+$/.test(p))) {
    const [x, y, width, height] = parts.map(Number);
    return { x, y, width, height };
  }
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return s;
    }
  }
  return s;
}

function toBool(s: string): boolean | string {
  const t = s.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return s;
}

export const CONVERTERS: Record<FormatName, (s: string) => unknown> = {
  ei_string: (s) => s,
  ei_int: (s) => toNumber(s, true),
  ei_number: (s) => toNumber(s, false),
  ei_bool: toBool,
  ei_auto_bool: (s) => (s.trim().toLowerCase() === 'auto' ? 'auto' : toBool(s)),
  // ffmpeg arguments from one string, split on white space (no quoting, as in Frigate).
  ei_args: (s) => (s.trim() === '' ? [] : s.trim().split(/\s+/)),
  // Addresses from the environment, separated by commas or spaces.
  ei_ips: (s) => (s.trim() === '' ? [] : s.trim().split(/[\s,]+/)),
  ei_roi: toRoi,
  ei_mqtt_url: (s) => s,
  ei_camera_url: (s) => s,
  // A comma-separated list from the environment: `bin_in,bin_out`.
  ei_labels: (s) => (s.trim() === '' ? [] : s.split(',').map((l) => l.trim())),
};
