/**
 * What the dashboard's API sends and the page reads. Both programs compile this one file (the
 * server's tsconfig and src/web/ui's), so a field changed on one side breaks the other's build.
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** GET api/session */
export interface SessionInfo {
  /** open: loopback without a password; login: logged in (session, token, or a trusted proxy). */
  mode: 'open' | 'login';
  /** Whether a logout makes sense (a session cookie). */
  session: boolean;
  /** Sent back in the `X-Edge-Imprint-CSRF` header of every write. */
  csrf: string | null;
  version: string;
  node_id: string;
}

export interface ZoneView {
  name: string;
  /** Pixels of the camera's stream, or fractions of the frame when every value is ≤ 1. */
  roi: Box;
  classes: string[];
}

/** GET api/cameras: what the live page draws. */
export interface CameraView {
  name: string;
  enabled: boolean;
  status: 'online' | 'offline';
  /** The WebSocket path of the live view (relative to the dashboard), null when it has none. */
  live: string | null;
  roi: Box | null;
  /** The stream's size once known (pixel zones are drawn against it). */
  source_size: { width: number; height: number } | null;
  zones: ZoneView[];
}

/** A class as class/list answers it. */
export interface ClassView {
  label: string;
  shots: number;
  background: boolean;
  threshold: number;
  /** learned from the shots, set by the user (class/set), or the floor (classifier.threshold). */
  threshold_source: 'learned' | 'set' | 'floor';
  origin: string;
  created_at: string;
  updated_at: string;
}

/** GET api/shots?label= */
export interface ShotView {
  id: number;
  label: string;
  source: string;
  created_at: string;
}

/** An event as event/list answers it. */
export interface EventView {
  id: string;
  camera: string;
  zone: string | null;
  label: string;
  score: number;
  start_time: string;
  end_time: string | null;
  correction: 'confirmed' | 'rejected' | 'relabeled' | null;
  corrected_label: string | null;
  corrected_at: string | null;
  has_snapshot: boolean;
  /** Where in the frame (fractions) the class was found; absent when the whole unit decided. */
  box?: Box;
}

export interface LiveViewStatus {
  state: string;
  viewers: number;
  restarts: number;
  dropped_viewers: number;
  last_error: string | null;
}

export interface CameraStatusView {
  status: 'online' | 'offline';
  enabled: boolean;
  camera_fps: number;
  process_fps: number;
  skipped_fps: number;
  reconnects: number;
  last_error: string | null;
  live: LiveViewStatus | null;
}

/** GET api/status */
export interface StatusView {
  version: string;
  node_id: string;
  started_at: string;
  uptime_s: number;
  rss_mb: number;
  detector: {
    type: 'edgetpu' | 'cpu';
    device: string;
    model: string;
    state: string;
    /** Why this backend: e.g. "no Coral was found". */
    backend_reason: string;
    /** Why this state: the last change's reason. */
    state_reason: string;
    inference_ms: number;
    restarts: number;
  };
  mqtt: { connected: boolean; broker: string };
  cameras: Record<string, CameraStatusView>;
  classes: number;
}

/** A class/enroll answer's data (docs/mqtt.md, "What an enrollment says"). */
export interface EnrollAnswerView {
  label: string;
  shots: number;
  added: number;
  /** Each camera unit the class can fire in now, and how. */
  recognised_in?: Array<{ camera: string; zone: string | null; how: 'crop' | 'residual' | 'whole' }>;
  warning?: Array<{ code: string; message: string }>;
}

/** The answer of every command, as on MQTT. */
export interface CommandAnswer<T = unknown> {
  status: 'ok' | 'error';
  data?: T;
  error?: string;
  code?: string;
}

/** Every GET of the API (relative to the page) and its body: the server's handlers and the page's reads both key on it. */
export interface ApiReads {
  'api/session': SessionInfo;
  'api/cameras': CameraView[];
  'api/status': StatusView;
  'api/shots': ShotView[];
  // Lists run through their command's lane, so they answer as the command does.
  'api/classes': CommandAnswer<ClassView[]>;
  'api/events': CommandAnswer<EventView[]>;
}

/** Server-sent events (GET api/stream), by event name. */
export interface StreamEvents {
  /** `box`: where in the frame (fractions) `label` was found; absent when the whole unit decided. */
  result: { camera: string; zone: string | null; label: string; score: number; at: string; box?: Box };
  camera: { camera: string; status: 'online' | 'offline' };
  classes: { labels: string[] };
  detection: { type: 'start' | 'end'; id: string; camera: string; zone: string | null; label: string; score: number };
  detector: { state: string; type: 'edgetpu' | 'cpu'; reason: string };
}
