/**
 * The configuration schema: every key, its default, its format and its environment
 * variable. Cameras are a map, so their keys live in a schema of their own, applied to each
 * camera. config/config.example.yaml documents the same keys (a test keeps them in step).
 */
import type { FormatName, LeafSpec } from './formats.js';
import { DEFAULT_MARGIN, DEFAULT_THRESHOLD } from '../imprinting/defaults.js';

export interface SchemaNode {
  [key: string]: SchemaNode | LeafSpec;
}

export const ENV_PREFIX = 'EDGE_IMPRINT_';

/** Names under `<base>/` that a camera cannot take without clashing with the node's topics. */
export const RESERVED_CAMERA_NAMES = ['available', 'state', 'stats', 'classes', 'events', 'request', 'response', 'enroll_form'];

export const CAMERA_NAME_PATTERN = /^[a-z0-9_]{1,64}$/;

const MQTT_TOPIC_PART = /^[^/#+\s][^#+\s]*[^/#+\s]$|^[^/#+\s]$/;
const MQTT_URL = /^(mqtt|mqtts|tcp|ssl|tls|ws|wss):\/\/\S+$/;
const EDGETPU_DEVICE = /^(usb|pci)?(:\d+|:\/\S+)?$/;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function leaf(format: FormatName, def: unknown, doc: string, extra: Partial<LeafSpec> = {}): LeafSpec {
  return { doc, format, default: def, ...extra };
}

function str(def: string, doc: string, extra: Partial<LeafSpec> = {}): LeafSpec {
  return leaf('ei_string', def, doc, extra);
}

function int(def: number, min: number, max: number, doc: string, extra: Partial<LeafSpec> = {}): LeafSpec {
  return leaf('ei_int', def, doc, { min, max, ...extra });
}

function num(def: number, min: number, max: number, doc: string): LeafSpec {
  return leaf('ei_number', def, doc, { min, max });
}

function bool(def: boolean, doc: string): LeafSpec {
  return leaf('ei_bool', def, doc);
}

/** `Front-Door.local` → `front_door_local`: the contract's default node id. */
export function defaultNodeId(hostname: string): string {
  const id = hostname.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return id === '' ? 'edge_imprint' : id.slice(0, 64);
}

export const DEFAULT_CPU_MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';
export const DEFAULT_EDGETPU_MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite';

function mqttSchema(): SchemaNode {
  return {
    url: str('', 'broker URL; empty starts the embedded broker on 127.0.0.1:1883', {
      allowEmpty: true,
      redactUrl: true,
      pattern: MQTT_URL,
      patternHint: 'must be empty (embedded broker) or a URL like mqtt://host:1883 (mqtt, mqtts, ws, wss)',
    }),
    username: str('', 'broker user name', { allowEmpty: true }),
    password: str('', 'broker password (prefer password_file or the environment)', {
      allowEmpty: true,
      sensitive: true,
    }),
    password_file: str('', 'file holding the broker password (Docker/systemd secrets)', { allowEmpty: true }),
    base_topic: str('edge-imprint', 'prefix of every topic', {
      pattern: MQTT_TOPIC_PART,
      patternHint: 'must be a topic without +, #, spaces or leading/trailing /',
    }),
    client_id: str('', 'MQTT client id; empty means edge-imprint-<node_id>', { allowEmpty: true, maxLength: 128 }),
    tls: {
      ca: str('', 'CA certificate file (PEM) to trust', { allowEmpty: true }),
      cert: str('', 'client certificate file (PEM)', { allowEmpty: true }),
      key: str('', 'client key file (PEM)', { allowEmpty: true }),
    },
    discovery: {
      enabled: bool(true, 'publish Home Assistant discovery'),
      prefix: str('homeassistant', 'Home Assistant discovery prefix', {
        pattern: MQTT_TOPIC_PART,
        patternHint: 'must be a topic without +, #, spaces or leading/trailing /',
      }),
    },
    stats_interval: int(60, 1, 86400, 'seconds between stats messages'),
    clean_session: bool(false, 'false keeps the session so requests sent during an outage are answered'),
    protocol_version: int(5, 4, 5, 'MQTT protocol version', { values: [4, 5] }),
    embedded: {
      host: str('127.0.0.1', 'address of the embedded broker started when url is empty'),
      port: int(1883, 0, 65535, 'port of the embedded broker'),
    },
  };
}

function detectorSchema(): SchemaNode {
  return {
    type: str('auto', 'auto uses a Coral when one answers, else the CPU', { values: ['auto', 'edgetpu', 'cpu'] }),
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
    edgetpu_library: str('libedgetpu.so.1', 'libedgetpu path or name for the dynamic loader'),
    inference_timeout_ms: int(5000, 100, 600000, 'an inference slower than this restarts the detector'),
  };
}

function classifierSchema(): SchemaNode {
  return {
    // Calibrated on data: see src/imprinting/defaults.ts and docs/accuracy.md.
    threshold: num(DEFAULT_THRESHOLD, 0, 1, 'lowest cosine score that counts as a match'),
    margin: num(DEFAULT_MARGIN, 0, 1, 'lead the best class needs over the second'),
    fine_tune: bool(true, 'refine the imprinted weights on the stored shots when it helps on held-out shots'),
    vote: {
      window: int(5, 1, 100, 'frames considered when voting'),
      min_hits: int(3, 1, 100, 'wins within the window that turn a class ON'),
    },
    off_delay_s: num(10, 0, 86400, 'seconds without the class before it turns OFF'),
  };
}

function limitsSchema(): SchemaNode {
  return {
    max_payload_bytes: int(8 * 1024 * 1024, 1024, 256 * 1024 * 1024, 'largest request payload'),
    max_megapixels: num(40, 0.01, 1000, 'largest decoded image'),
    queue_size: int(16, 1, 4096, 'pending requests before answering busy'),
  };
}

/** The schema of everything but `cameras`, with defaults that depend on the host. */
export function mainSchema(defaults: { nodeId: string }): SchemaNode {
  return withEnvNames(
    {
      node_id: str(defaults.nodeId, 'node id used in topics and unique ids', {
        pattern: /^[a-z0-9_]{1,64}$/,
        patternHint: 'must be 1-64 characters of a-z, 0-9 and _',
      }),
      mqtt: mqttSchema(),
      detector: detectorSchema(),
      classifier: classifierSchema(),
      limits: limitsSchema(),
      data_dir: str('./data', 'class store, thumbnails and state'),
      model_dir: str('./models', 'model files'),
      http: {
        enabled: bool(true, 'serve /health and /metrics'),
        host: str('127.0.0.1', 'address to bind; 0.0.0.0 for every interface'),
        port: int(8089, 0, 65535, 'port (0: any free port)'),
      },
      log: {
        level: str('info', 'log level', { values: LOG_LEVELS }),
        format: str('auto', 'auto: readable lines on a terminal, JSON otherwise', { values: ['auto', 'pretty', 'json'] }),
      },
    },
    ENV_PREFIX,
  );
}

/** Keys of one camera; `url` or `url_file` is required while the camera is enabled. */
export function cameraSchema(): SchemaNode {
  return {
    url: str('', 'rtsp://, rtsps://, http(s):// MJPEG, a video file or a V4L2 device', {
      allowEmpty: true,
      redactUrl: true,
    }),
    url_file: str('', 'file holding the URL (it carries credentials)', { allowEmpty: true }),
    transport: str('tcp', 'RTSP transport', { values: ['tcp', 'udp'] }),
    fps: num(2, 0.01, 30, 'frames per second sent to the detector'),
    roi: leaf('ei_roi', null, 'crop {x, y, width, height} in source pixels (or fractions) before resizing'),
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
    decode: str('all', 'keyframes decodes only keyframes (-skip_frame nokey)', { values: ['all', 'keyframes'] }),
    input_args: leaf('ei_args', [], 'extra ffmpeg input arguments'),
    hwaccel_args: leaf('ei_args', [], 'ffmpeg hardware acceleration arguments'),
    stall_timeout: num(20, 1, 3600, 'seconds without a frame before ffmpeg is restarted'),
    enabled: bool(true, 'run detection on this camera'),
  };
}

export function isLeaf(node: SchemaNode | LeafSpec): node is LeafSpec {
  return Object.hasOwn(node, 'default') && Object.hasOwn(node, 'format');
}

/** Every leaf with its dotted path, in schema order. */
export function leaves(node: SchemaNode, prefix = ''): Array<[string, LeafSpec]> {
  const out: Array<[string, LeafSpec]> = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isLeaf(child)) out.push([path, child]);
    else out.push(...leaves(child, path));
  }
  return out;
}

/** `mqtt.tls.ca` → `EDGE_IMPRINT_MQTT_TLS_CA`. */
export function envName(path: string, prefix = ENV_PREFIX): string {
  return prefix + path.toUpperCase().replace(/\./g, '_');
}

function withEnvNames(node: SchemaNode, prefix: string, path = ''): SchemaNode {
  const out: SchemaNode = {};
  for (const [key, child] of Object.entries(node)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    out[key] = isLeaf(child) ? { ...child, env: envName(childPath, prefix) } : withEnvNames(child, prefix, childPath);
  }
  return out;
}

/** The default configuration of one camera (e.g. for a demo camera built in code). */
export function defaultCamera(): Record<string, unknown> {
  return defaultsOf(cameraSchema());
}

export function defaultsOf(node: SchemaNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    out[key] = isLeaf(child) ? structuredClone(child.default) : defaultsOf(child);
  }
  return out;
}
