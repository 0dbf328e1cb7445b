import { isFractional } from '../config/formats.js';
import type { CameraConfig, Roi } from '../config/types.js';
import type { InputSize } from '../media/image.js';

/** Where a camera's frames come from, decided by the shape of its `url`. */
export type InputKind = 'rtsp' | 'rtsps' | 'http' | 'file' | 'v4l2';

/** File descriptor of the snapshot JPEG pipe (0-2 are stdin, stdout, stderr). */
export const SNAPSHOT_FD = 3;

/**
 * What one camera classifies: its zones, in config order, or the whole frame (after the
 * camera's roi) as the one unit of a camera without zones (`zone` null).
 */
export interface Unit {
  zone: string | null;
  roi: Roi | null;
}

export function cameraUnits(camera: CameraConfig): Unit[] {
  const zones = Object.entries(camera.zones);
  if (zones.length === 0) return [{ zone: null, roi: camera.roi }];
  return zones.map(([zone, z]) => ({ zone, roi: z.roi }));
}

export interface FfmpegPlan {
  args: string[];
  /**
   * Bytes of one raw RGB frame on stdout: the crops of every unit stacked top to bottom,
   * each exactly the model's input size.
   */
  frameBytes: number;
  units: Unit[];
  /** Whether snapshot JPEGs are written to fd 3. */
  snapshots: boolean;
  /**
   * True when every raw frame has its own snapshot (same rate, same split): the n-th JPEG
   * on fd 3 then shows exactly the n-th raw frame.
   */
  pairedSnapshots: boolean;
}

/** Above this detection rate snapshots are sampled less often (JPEG encoding is not free). */
export const MAX_SNAPSHOT_FPS = 5;

export interface PlanOptions {
  /** Detector input size; frames are scaled (stretched) to exactly this. */
  inputSize: InputSize;
  /** Snapshot rate cap (default MAX_SNAPSHOT_FPS); never above the camera's `fps`. */
  snapshotFps?: number;
}

export function inputKind(url: string): InputKind {
  const lower = url.toLowerCase();
  if (lower.startsWith('rtsps://')) return 'rtsps';
  if (lower.startsWith('rtsp://')) return 'rtsp';
  if (lower.startsWith('http://') || lower.startsWith('https://')) return 'http';
  if (lower.startsWith('/dev/video') || lower.startsWith('v4l2://')) return 'v4l2';
  return 'file';
}

/** Everything after the ffmpeg binary: inputs, the filter graph and one or two outputs. */
export function buildFfmpegPlan(camera: CameraConfig, options: PlanOptions): FfmpegPlan {
  const { width, height } = options.inputSize;
  const snapshots = camera.snapshot.enabled;
  const snapshotFps = Math.min(camera.fps, options.snapshotFps ?? MAX_SNAPSHOT_FPS);
  const paired = snapshots && snapshotFps === camera.fps;
  const units = cameraUnits(camera);
  // At `info` ffmpeg names the input's size once at start (and -nostats keeps it quiet after):
  // pixel zones are checked against it, and pixel boxes of class/enroll read in it, on every camera.
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'info',
    '-nostats',
    ...camera.hwaccel_args,
    ...inputArgs(camera),
    '-filter_complex',
    filterGraph(camera, options.inputSize, snapshots ? snapshotFps : 0, paired),
    ...rawOutputArgs(),
    ...(snapshots ? snapshotOutputArgs(camera.snapshot.quality) : []),
  ];
  return { args, frameBytes: width * height * 3 * units.length, units, snapshots, pairedSnapshots: paired };
}

/** `Stream #0:0: Video: h264 (Main), yuv420p(progressive), 1280x720 [SAR 1:1 ...]` → its size. */
export function sourceSizeFromStderr(line: string): { width: number; height: number } | null {
  const match = /Stream #0:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})[\s,[]/.exec(line);
  return match ? { width: Number(match[1]), height: Number(match[2]) } : null;
}

/** The part of a pixel region that lies outside a frame of `size`, described, or null. */
export function outsideFrame(roi: Roi, size: { width: number; height: number }): string | null {
  if (isFractional(roi)) return null;
  if (roi.x + roi.width > size.width || roi.y + roi.height > size.height) {
    return `reaches outside the ${size.width}x${size.height} frame (x + width at most ${size.width}, y + height at most ${size.height})`;
  }
  return null;
}

/** Input options by source kind, then the user's own input args, then `-i`. */
export function inputArgs(camera: CameraConfig): string[] {
  const kind = inputKind(camera.url);
  const args: string[] = [];
  // Decoder option: must come before -i. Saves decoding every P/B frame at low fps.
  if (camera.decode === 'keyframes') args.push('-skip_frame', 'nokey');
  switch (kind) {
    case 'rtsp':
      args.push('-rtsp_transport', camera.transport, ...liveTimestampArgs());
      break;
    case 'rtsps':
      // RTSP over TLS is interleaved on the TLS connection; UDP is not an option there.
      args.push('-rtsp_transport', 'tcp', ...liveTimestampArgs());
      break;
    case 'http':
      args.push(...liveTimestampArgs());
      break;
    case 'v4l2':
      args.push('-f', 'v4l2');
      break;
    case 'file':
      // A file is a demo or test camera: loop it forever at its native speed.
      args.push('-stream_loop', '-1', '-re');
      break;
  }
  const url = kind === 'v4l2' ? camera.url.replace(/^v4l2:\/\//i, '') : camera.url;
  const path = kind === 'file' ? url.replace(/^file:\/\//i, '') : url;
  return [...args, ...camera.input_args, '-i', path];
}

/**
 * Cameras' own timestamps are often broken (jumps after a reboot, wrap-arounds);
 * wall-clock timestamps keep the fps filter sampling evenly.
 */
function liveTimestampArgs(): string[] {
  return [
    '-fflags',
    '+genpts+discardcorrupt',
    '-use_wallclock_as_timestamps',
    '1',
    // ffmpeg's default 5 s of probing delays the first frame by ~3 s after every
    // reconnect; the SDP (or MJPEG headers) already describe the video stream.
    '-analyzeduration',
    '1000000',
  ];
}

/**
 * fps first (so nothing else runs on frames that would be dropped), then the ROI crop and
 * the scale to the model input, converting to RGB in the same swscale pass. The snapshot
 * branch is split off before the crop (a snapshot shows the whole scene); at the same rate
 * it gets exactly the detection frames, so an event's snapshot is the frame that caused it.
 */
export function filterGraph(camera: CameraConfig, size: InputSize, snapshotFps: number, paired = false): string {
  const units = cameraUnits(camera);
  const head = `[0:v]fps=${formatNumber(camera.fps)}`;
  const snapshotBranch = snapshotFps > 0;
  const branches = units.length + (snapshotBranch ? 1 : 0);
  const outputs = units.map((_, i) => `[u${i}]`).join('') + (snapshotBranch ? '[s]' : '');
  const parts = [branches === 1 ? `${head}${outputs}` : `${head},split=${branches}${outputs}`];
  units.forEach((unit, i) => parts.push(`[u${i}]${unitCrop(unit, size)}[c${i}]`));
  // The crops of one frame leave as one raw frame, stacked, so they stay together.
  parts.push(units.length === 1 ? '[c0]null[det]' : `${units.map((_, i) => `[c${i}]`).join('')}vstack=inputs=${units.length}[det]`);
  if (snapshotBranch) {
    const rate = paired ? '' : `fps=${formatNumber(snapshotFps)},`;
    parts.push(`[s]${rate}scale=${camera.snapshot.width}:-2:flags=bilinear,format=yuvj420p[snap]`);
  }
  return parts.join(';');
}

/** Crop (a zone, or the camera's roi) then scale to the model input, RGB in the same pass. */
function unitCrop(unit: Unit, size: InputSize): string {
  return [roiCrop(unit.roi), `scale=${size.width}:${size.height}:flags=area,format=rgb24`].filter((f) => f !== '').join(',');
}

/**
 * ROI in source pixels, or as fractions of the frame when every value is ≤ 1.
 * Clamped to the frame so a ROI a little too large for the stream does not kill ffmpeg.
 */
export function roiCrop(roi: Roi | null): string {
  if (!roi) return '';
  const fractional = isFractional(roi);
  const x = fractional ? `iw*${formatNumber(roi.x)}` : String(Math.round(roi.x));
  const y = fractional ? `ih*${formatNumber(roi.y)}` : String(Math.round(roi.y));
  const w = fractional ? `iw*${formatNumber(roi.width)}` : String(Math.round(roi.width));
  const h = fractional ? `ih*${formatNumber(roi.height)}` : String(Math.round(roi.height));
  // Commas inside filter arguments must be escaped in a filter graph. x and y are kept
  // inside the frame too, so a region beyond the edge leaves a sliver (reported) instead
  // of a filter error that would stop the whole camera.
  const cx = `min(${x}\\,iw-2)`;
  const cy = `min(${y}\\,ih-2)`;
  return `crop=w=max(2\\,min(${w}\\,iw-${cx})):h=max(2\\,min(${h}\\,ih-${cy})):x=${cx}:y=${cy}`;
}

function rawOutputArgs(): string[] {
  return [
    '-map',
    '[det]',
    '-an',
    '-sn',
    '-dn',
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    // Without this the tail of each frame waits in ffmpeg's I/O buffer for the next one.
    '-flush_packets',
    '1',
    'pipe:1',
  ];
}

function snapshotOutputArgs(quality: number): string[] {
  return [
    '-map',
    '[snap]',
    '-an',
    '-fps_mode',
    'passthrough',
    '-c:v',
    'mjpeg',
    '-q:v',
    String(jpegQscale(quality)),
    '-f',
    'image2pipe',
    '-flush_packets',
    '1',
    `pipe:${SNAPSHOT_FD}`,
  ];
}

/** JPEG quality 1-100 (100 best, as in most tools) → ffmpeg's mjpeg qscale 2-31 (2 best). */
export function jpegQscale(quality: number): number {
  const q = Math.min(100, Math.max(1, quality));
  return Math.round(2 + ((100 - q) * 29) / 99);
}

function formatNumber(n: number): string {
  return String(Number(n.toFixed(6)));
}


/** Credentials scrubbed from URLs and ffmpeg output (one implementation, in config/). */
export { redactUrl } from '../config/redact.js';
