/** The validated configuration every part receives (built by src/config/load.ts). */

export type DetectorType = 'auto' | 'edgetpu' | 'cpu';

export interface TlsConfig {
  ca: string;
  cert: string;
  key: string;
}

export interface MqttConfig {
  /** Empty string: start the embedded broker (aedes) on 127.0.0.1:1883. */
  url: string;
  username: string;
  password: string;
  base_topic: string;
  client_id: string;
  tls: TlsConfig;
  discovery: { enabled: boolean; prefix: string };
  stats_interval: number;
  /** Keep the session on the broker so requests sent during a short outage are answered. */
  clean_session: boolean;
  protocol_version: 4 | 5;
  /** The in-process broker used when `url` is empty. */
  embedded?: { host: string; port: number };
}

export interface DetectorConfig {
  type: DetectorType;
  /** `usb`, `pci`, `usb:0`, `pci:0`, or empty for the first Coral found. */
  device: string;
  threads: number;
  model: { cpu: string; edgetpu: string };
  /** Where libedgetpu is looked for; a path, or a bare name resolved by the dynamic loader. */
  edgetpu_library: string;
  inference_timeout_ms: number;
}

export interface ClassifierConfig {
  threshold: number;
  margin: number;
  /** Fine-tune the weights on the stored shots (in a worker), used only when it beats imprinting on held-out shots. */
  fine_tune: boolean;
  vote: { window: number; min_hits: number };
  off_delay_s: number;
}

export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CameraConfig {
  url: string;
  transport: 'tcp' | 'udp';
  fps: number;
  roi: Roi | null;
  motion: { enabled: boolean; threshold: number; max_skip_s: number };
  snapshot: { enabled: boolean; quality: number; width: number };
  decode: 'all' | 'keyframes';
  input_args: string[];
  hwaccel_args: string[];
  stall_timeout: number;
  enabled: boolean;
}

export interface LimitsConfig {
  max_payload_bytes: number;
  max_megapixels: number;
  queue_size: number;
}

export interface AppConfig {
  node_id: string;
  mqtt: MqttConfig;
  detector: DetectorConfig;
  classifier: ClassifierConfig;
  cameras: Record<string, CameraConfig>;
  limits: LimitsConfig;
  data_dir: string;
  model_dir: string;
  http: { enabled: boolean; host: string; port: number };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** `auto`: readable lines when stderr is a terminal, JSON lines (for log collectors) otherwise. */
    format: 'auto' | 'pretty' | 'json';
  };
}
