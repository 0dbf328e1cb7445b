/**
 * The configuration schema — the one description of every key: its default, its format,
 * its documentation and its environment variable. convict loads and validates with it
 * (src/config/load.ts), config/config.example.yaml documents the same keys (a test keeps
 * them in step), and the TypeScript types are derived from it (`ConfigOf`, src/config/types.ts),
 * so nothing is written twice.
 *
 * Cameras, and the zones of a camera, are maps from a user-chosen name to settings: convict
 * has no maps, so a map node carries the schema applied to each of its entries.
 */
import type { FormatName, LeafSpec, Roi } from './formats.js';
import { DEFAULT_CENTRED_MARGIN, DEFAULT_CENTRED_THRESHOLD } from '../recognition/defaults.js';
import { DEFAULT_ZONE_FLOOR } from '../recognition/zoneDefaults.js';

/** A leaf with the TypeScript type of its value (phantom: never set at run time). */
export interface Leaf<T> extends LeafSpec {
  readonly __value?: T;
}

/**
 * A file holding the secret of another key (`password_file` for `password`): read while
 * loading, so it is part of the file's schema but not of the loaded configuration.
 */
export interface SecretFileLeaf extends Leaf<string> {
  readonly secretFileFor: string;
}

/** A map from a name to settings, each entry validated against `entry`. */
export interface MapNode<E extends SchemaNode> {
  readonly kind: 'map';
  readonly entry: E;
  readonly doc: string;
}

export interface SchemaNode {
  readonly [key: string]: SchemaNode | Leaf<unknown> | MapNode<SchemaNode>;
}

/** The value type a schema describes. */
export type ConfigOf<S> = {
  -readonly [K in keyof S as S[K] extends SecretFileLeaf ? never : K]: S[K] extends Leaf<infer T>
    ? T
    : S[K] extends MapNode<infer E>
      ? Record<string, ConfigOf<E>>
      : ConfigOf<S[K]>;
};

export const ENV_PREFIX = 'EDGE_IMPRINT_';

/** Names under `<base>/` that a camera cannot take without clashing with the node's topics. */
export const RESERVED_CAMERA_NAMES = ['available', 'state', 'stats', 'classes', 'events', 'request', 'response', 'enroll_form', 'last_enrollment'];

/** Camera and zone names appear in topics and entity ids. */
export const NAME_PATTERN = /^[a-z0-9_]{1,64}$/;

const MQTT_TOPIC_PART = /^[^/#+\s][^#+\s]*[^/#+\s]$|^[^/#+\s]$/;
const EDGETPU_DEVICE = /^(usb|pci)?(:\d+|:\/\S+)?$/;
const TOPIC_HINT = 'must be a topic without +, #, spaces or leading/trailing /';
const BASE_PATH = /^(\/[A-Za-z0-9._~-]+)+$/;
const PUBLIC_URL = /^(https?|homeassistant):\/\/\S+$/;

function leaf<T>(format: FormatName, def: T, doc: string, extra: Partial<LeafSpec> = {}): Leaf<T> {
  return { doc, format, default: def, ...extra };
}

function str(def: string, doc: string, extra: Partial<LeafSpec> = {}): Leaf<string> {
  return leaf('ei_string', def, doc, extra);
}

/** A string from a fixed list; its type is the union of the list. */
function oneOf<const V extends readonly string[]>(values: V, def: V[number], doc: string): Leaf<V[number]> {
  return leaf('ei_string', def, doc, { values });
}

function int(def: number, min: number, max: number, doc: string): Leaf<number> {
  return leaf('ei_int', def, doc, { min, max });
}

function intOf<const V extends readonly number[]>(values: V, def: V[number], doc: string): Leaf<V[number]> {
  return leaf('ei_int', def, doc, { values });
}

function num(def: number, min: number, max: number, doc: string): Leaf<number> {
  return leaf('ei_number', def, doc, { min, max });
}

function bool(def: boolean, doc: string): Leaf<boolean> {
  return leaf('ei_bool', def, doc);
}

/** auto, true or false (YAML booleans, or the words from the environment). */
function autoBool(def: 'auto' | boolean, doc: string): Leaf<'auto' | boolean> {
  return leaf('ei_auto_bool', def, doc);
}

function secretFile(secretFileFor: string, doc: string): SecretFileLeaf {
  return { ...leaf('ei_string', '', doc, { allowEmpty: true }), secretFileFor };
}

function mapOf<E extends SchemaNode>(entry: E, doc: string): MapNode<E> {
  return { kind: 'map', entry, doc };
}

/** `Front-Door.local` → `front_door_local`: the contract's default node id. */
export function defaultNodeId(hostname: string): string {
  const id = hostname.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return id === '' ? 'edge_imprint' : id.slice(0, 64);
}

export const DEFAULT_CPU_MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';
export const DEFAULT_EDGETPU_MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite';

function mqttSchema() {
  return {
    url: leaf('ei_mqtt_url', '', 'broker URL; empty uses a broker on 127.0.0.1:1883 or starts the embedded one', {
      redactUrl: true,
    }),
    username: str('', 'broker user name', { allowEmpty: true }),
    password: str('', 'broker password (prefer password_file or the environment)', { allowEmpty: true, sensitive: true }),
    password_file: secretFile('password', 'file holding the broker password (Docker/systemd secrets)'),
    base_topic: str('edge-imprint', 'prefix of every topic', { pattern: MQTT_TOPIC_PART, patternHint: TOPIC_HINT }),
    client_id: str('', 'MQTT client id; empty means edge-imprint-<node_id>', { allowEmpty: true, maxLength: 128 }),
    tls: {
      ca: str('', 'CA certificate file (PEM) to trust', { allowEmpty: true }),
      cert: str('', 'client certificate file (PEM)', { allowEmpty: true }),
      key: str('', 'client key file (PEM)', { allowEmpty: true }),
    },
    discovery: {
      enabled: bool(true, 'publish Home Assistant discovery'),
      prefix: str('homeassistant', 'Home Assistant discovery prefix', { pattern: MQTT_TOPIC_PART, patternHint: TOPIC_HINT }),
    },
    stats_interval: int(60, 1, 86400, 'seconds between stats messages'),
    clean_session: bool(false, 'false keeps the session so requests sent during an outage are answered'),
    protocol_version: intOf([4, 5], 5, 'MQTT protocol version'),
    embedded: {
      enabled: autoBool('auto', 'auto: embedded broker only when url is empty, no broker answers, and no broker service of this machine takes the port; true: always; false: never (wait for the broker)'),
      host: str('127.0.0.1', 'address of the embedded broker started when url is empty'),
      port: int(1883, 0, 65535, 'port of the embedded broker'),
    },
  } as const;
}

function detectorSchema() {
  return {
    type: oneOf(['auto', 'edgetpu', 'cpu'], 'auto', 'auto uses a Coral when one answers, else the CPU'),
    backend: oneOf(
      ['auto', 'coral', 'onnx', 'tflite'],
      'auto',
      'auto: a Coral when detector.type allows and one answers, else ONNX Runtime; coral: as type edgetpu; onnx or tflite: that CPU runtime (TFLite is the reference)',
    ),
    device: str('', 'Coral device: empty (first found), usb, pci, usb:0, pci:0', {
      allowEmpty: true,
      pattern: EDGETPU_DEVICE,
      patternHint: 'must be empty, usb, pci, usb:N, pci:N or :N',
    }),
    threads: int(2, 1, 64, 'CPU threads for the CPU model'),
    model: {
      cpu: str(DEFAULT_CPU_MODEL, 'CPU model file, relative to model_dir or absolute'),
      edgetpu: str(DEFAULT_EDGETPU_MODEL, 'Edge TPU model file, relative to model_dir or absolute'),
    },
    edgetpu_library: str('', 'libedgetpu path or name; empty: the platform\'s (libedgetpu.so.1 on Linux)', { allowEmpty: true }),
    inference_timeout_ms: int(5000, 100, 600000, 'an inference slower than this restarts the detector'),
  } as const;
}

function classifierSchema() {
  return {
    // Calibrated on data: see src/recognition/defaults.ts, zoneDefaults.ts and docs/accuracy.md.
    threshold: num(DEFAULT_CENTRED_THRESHOLD, 0, 1, 'lowest (centred) cosine for photos and photo-taught classes: the floor of every per-class threshold'),
    margin: num(DEFAULT_CENTRED_MARGIN, 0, 1, 'lead the best class needs over the second (photos)'),
    zone_threshold: num(DEFAULT_ZONE_FLOOR, 0, 1, 'lowest residual cosine for classes taught in a camera zone: the floor of their thresholds'),
    fine_tune: bool(true, 'refine the imprinted weights on the stored shots when it helps on held-out shots'),
    vote: {
      window: int(5, 1, 100, 'frames considered when voting'),
      min_hits: int(3, 1, 100, 'wins within the window that turn a class ON'),
    },
    off_delay_s: num(10, 0, 86400, 'seconds without the class before it turns OFF'),
  } as const;
}

function limitsSchema() {
  return {
    max_payload_bytes: int(8 * 1024 * 1024, 1024, 256 * 1024 * 1024, 'largest request payload'),
    max_megapixels: num(40, 0.01, 1000, 'largest decoded image'),
    queue_size: int(16, 1, 4096, 'requests waiting in one lane before new ones are answered busy'),
    request_timeout_s: num(30, 1, 3600, 'longest a request may wait and run (camera enrollments add their frames)'),
  } as const;
}

/** The agent's HTTP server: /health, /metrics, the dashboard and its login. */
function httpSchema() {
  return {
    enabled: bool(true, 'serve /health, /metrics, the dashboard and its live view'),
    host: str('127.0.0.1', 'address to bind; 0.0.0.0 for every interface (the dashboard then needs http.auth)'),
    port: int(8089, 0, 65535, 'port (0: any free port)'),
    base_path: str('', 'path prefix a reverse proxy forwards unchanged, e.g. /edge-imprint; empty: none', {
      allowEmpty: true,
      pattern: BASE_PATH,
      patternHint: 'must be empty or a path like /edge-imprint (no trailing /)',
    }),
    public_url: str('', "the dashboard's address as users reach it (Home Assistant's configuration_url); empty: unknown", {
      allowEmpty: true,
      pattern: PUBLIC_URL,
      patternHint: 'must be empty or an http://, https:// or homeassistant:// URL',
    }),
    auth: {
      password: str('', 'dashboard password (prefer password_file or the environment)', { allowEmpty: true, sensitive: true }),
      password_file: secretFile('password', 'file holding the dashboard password (Docker/systemd secrets)'),
      token: str('', 'bearer tokens for scripts, separated by spaces', { allowEmpty: true, sensitive: true }),
      token_file: secretFile('token', 'file holding the bearer tokens, separated by spaces or lines'),
      metrics: bool(false, '/metrics needs the login too'),
      trusted_proxies: leaf<string[]>('ei_ips', [], 'addresses of proxies that log users in themselves (Home Assistant ingress)'),
      session_hours: num(168, 0.1, 8760, 'hours a dashboard login lasts'),
    },
  } as const;
}

/** The fleet gallery: classes shared with other nodes through the MQTT broker (src/fleet/). */
function gallerySchema() {
  return {
    sync: bool(false, 'share classes with every node that syncs the same gallery topic'),
    topic: str('edge-imprint-gallery', 'topic under which the nodes of one gallery share their classes', {
      pattern: MQTT_TOPIC_PART,
      patternHint: TOPIC_HINT,
    }),
    thumbnails: bool(false, "share each shot's thumbnail too (about 6x the bytes): a node running another model can re-embed it"),
    max_message_bytes: int(8 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024, 'largest gallery message sent or accepted'),
    tombstone_days: num(30, 0.01, 3650, 'days a removal, rename or undo is kept once nothing it applies to is left'),
  } as const;
}

/** Keys of one zone of a camera: a region classified on its own. */
export function zoneSchema() {
  return {
    roi: leaf<Roi | null>('ei_roi', null, 'the region {x, y, width, height} in source pixels, or fractions of the frame; required'),
    classes: leaf<string[]>('ei_labels', [], 'the only classes this zone may report; empty: every class'),
  } as const;
}

/** Keys of one camera; `url` or `url_file` is required while the camera is enabled. */
export function cameraSchema() {
  return {
    url: leaf('ei_camera_url', '', 'rtsp://, rtsps://, http(s):// MJPEG, a video file or a V4L2 device', { redactUrl: true }),
    url_file: secretFile('url', 'file holding the URL (it carries credentials)'),
    transport: oneOf(['tcp', 'udp'], 'tcp', 'RTSP transport'),
    fps: num(2, 0.01, 30, 'frames per second sent to the detector'),
    roi: leaf<Roi | null>('ei_roi', null, 'crop {x, y, width, height} in source pixels (or fractions) before resizing'),
    motion: {
      enabled: bool(false, 'skip inference while the picture does not change'),
      threshold: num(0.02, 0.0001, 1, 'fraction of the frame (grid cells) whose brightness must change to count as motion'),
      max_skip_s: num(5, 0, 3600, 'infer at least this often even without motion'),
    },
    snapshot: {
      enabled: bool(true, 'publish a JPEG when a class turns ON'),
      quality: int(80, 1, 100, 'JPEG quality'),
      width: int(640, 16, 7680, 'snapshot width in pixels'),
    },
    live: {
      url: leaf('ei_camera_url', '', "stream for the live view, e.g. the camera's substream; empty: the camera's url", { redactUrl: true }),
      url_file: secretFile('live.url', 'file holding the live URL (it carries credentials)'),
      width: int(1280, 16, 4095, 'largest live view width in pixels (the aspect ratio is kept)'),
      height: int(720, 16, 4095, 'largest live view height in pixels'),
      fps: num(10, 1, 30, 'most frames per second of the live view (a slower camera is not padded)'),
      quality: int(75, 1, 100, 'MPEG-1 quality (higher is sharper and bigger)'),
    },
    decode: oneOf(['all', 'keyframes'], 'all', 'keyframes decodes only keyframes (-skip_frame nokey)'),
    input_args: leaf<string[]>('ei_args', [], 'extra ffmpeg input arguments'),
    hwaccel_args: leaf<string[]>('ei_args', [], 'ffmpeg hardware acceleration arguments'),
    stall_timeout: num(20, 1, 3600, 'seconds without a frame before ffmpeg is restarted'),
    enabled: bool(true, 'run detection on this camera'),
    zones: mapOf(zoneSchema(), 'zone name → region classified on its own (instead of the whole frame)'),
  } as const;
}

/** The schema of everything, with defaults that depend on the host. */
export function mainSchema(defaults: { nodeId: string }) {
  return withEnvNames(
    {
      node_id: str(defaults.nodeId, 'node id used in topics and unique ids', {
        pattern: NAME_PATTERN,
        patternHint: 'must be 1-64 characters of a-z, 0-9 and _',
      }),
      mqtt: mqttSchema(),
      detector: detectorSchema(),
      classifier: classifierSchema(),
      limits: limitsSchema(),
      events: {
        max_count: int(500, 1, 100_000, 'detection events kept for review and corrections (oldest go first)'),
        max_age_days: num(30, 0.01, 3650, 'days a detection event is kept'),
      },
      data_dir: str('./data', 'class store, thumbnails and state'),
      model_dir: str('./models', 'model files'),
      http: httpSchema(),
      gallery: gallerySchema(),
      log: {
        level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info', 'log level'),
        format: oneOf(['auto', 'pretty', 'json'], 'auto', 'auto: readable lines on a terminal, JSON otherwise'),
      },
      cameras: mapOf(cameraSchema(), 'camera name → settings'),
    } as const,
    ENV_PREFIX,
  );
}

export type MainSchema = ReturnType<typeof mainSchema>;
export type CameraSchema = ReturnType<typeof cameraSchema>;
export type ZoneSchema = ReturnType<typeof zoneSchema>;

export function isLeaf(node: unknown): node is Leaf<unknown> {
  return typeof node === 'object' && node !== null && Object.hasOwn(node, 'default') && Object.hasOwn(node, 'format');
}

export function isMap(node: unknown): node is MapNode<SchemaNode> {
  return typeof node === 'object' && node !== null && (node as { kind?: unknown }).kind === 'map';
}

/** Every leaf outside maps, with its dotted path, in schema order. */
export function leaves(node: SchemaNode, prefix = ''): Array<[string, Leaf<unknown>]> {
  const out: Array<[string, Leaf<unknown>]> = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isLeaf(child)) out.push([path, child]);
    else if (!isMap(child)) out.push(...leaves(child, path));
  }
  return out;
}

/** The node without its maps: what convict validates in one pass. */
export function withoutMaps(node: SchemaNode): SchemaNode {
  const out: Record<string, SchemaNode | Leaf<unknown>> = {};
  for (const [key, child] of Object.entries(node)) {
    if (isLeaf(child)) out[key] = child;
    else if (!isMap(child)) out[key] = withoutMaps(child);
  }
  return out;
}

/** `mqtt.tls.ca` → `EDGE_IMPRINT_MQTT_TLS_CA`. */
export function envName(path: string, prefix = ENV_PREFIX): string {
  return prefix + path.toUpperCase().replace(/\./g, '_');
}

function withEnvNames<S extends SchemaNode>(node: S, prefix: string, path = ''): S {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    if (isLeaf(child)) out[key] = { ...child, env: envName(childPath, prefix) };
    else if (isMap(child)) out[key] = child;
    else out[key] = withEnvNames(child, prefix, childPath);
  }
  return out as S;
}

export function isSecretFile(node: unknown): node is SecretFileLeaf {
  return isLeaf(node) && typeof (node as Partial<SecretFileLeaf>).secretFileFor === 'string';
}

/** Every default of a schema (maps start empty), as the loaded configuration has it. */
export function defaultsOf<S extends SchemaNode>(node: S): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    if (isSecretFile(child)) continue;
    if (isLeaf(child)) out[key] = structuredClone(child.default);
    else out[key] = isMap(child) ? {} : defaultsOf(child);
  }
  return out as ConfigOf<S>;
}

/** Values of one section without its secret-file keys (already resolved into their secret). */
export function withoutSecretFiles(node: SchemaNode, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const child = node[key];
    if (isSecretFile(child)) continue;
    const nested = child !== undefined && !isLeaf(child) && !isMap(child) && typeof value === 'object' && value !== null;
    out[key] = nested ? withoutSecretFiles(child as SchemaNode, value as Record<string, unknown>) : value;
  }
  return out;
}
