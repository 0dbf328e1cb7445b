/**
 * The live view's ffmpeg arguments, pure: the camera's input options, then node-rtsp-stream's
 * Mpeg1Muxer recipe for jsmpeg (`-i <url> -f mpegts -codec:v mpeg1video <options> -`).
 */
import { inputArgs, jpegQscale } from '../../camera/ffmpegArgs.js';
import type { CameraConfig } from '../../config/types.js';

export type LiveConfig = CameraConfig['live'];

/** The live view's own URL, else the camera's. */
export function liveUrl(camera: CameraConfig): string {
  return camera.live.url !== '' ? camera.live.url : camera.url;
}

export interface LiveInput {
  /** Global and input options, everything before `-i`. */
  args: string[];
  /** What follows `-i` (a file URL or v4l2:// turned into its path, as for the camera). */
  url: string;
}

/** The camera's own input handling (transport, timestamps, input_args), applied to the live URL. */
export function liveInput(camera: CameraConfig): LiveInput {
  // Every frame is decoded: keyframes-only decoding is for classification, not for watching.
  const args = inputArgs({ ...camera, url: liveUrl(camera), decode: 'all' });
  const url = args[args.length - 1] ?? '';
  const global = ['-hide_banner', '-nostdin', '-loglevel', 'warning'];
  return { args: [...global, ...camera.hwaccel_args, ...args.slice(0, -2)], url };
}

/** After `-i <url>`, as Mpeg1Muxer puts them: what jsmpeg decodes. */
export const MPEG1_MUXER_OUTPUT: readonly string[] = ['-f', 'mpegts', '-codec:v', 'mpeg1video'];

/** The live ffmpeg's whole argument list: input options, `-i <url>`, the muxer's output to stdout. */
export function liveArgs(camera: CameraConfig): string[] {
  const input = liveInput(camera);
  const options = Object.entries(liveOutputOptions(camera.live)).flatMap(([key, value]) => (value === '' ? [key] : [key, value]));
  return [...input.args, '-i', input.url, ...MPEG1_MUXER_OUTPUT, ...options, '-'];
}

/**
 * Output options for jsmpeg: the first video stream only, at most live.fps frames a second
 * and live.width x live.height (never upscaled, aspect ratio kept), no B-frames (jsmpeg
 * decodes in arrival order), a keyframe about every second so a decoder can start soon,
 * constant quality instead of a bitrate, and every packet flushed at once (latency).
 */
export function liveOutputOptions(live: LiveConfig): Record<string, string> {
  return {
    '-map': '0:v:0',
    '-vf': `${fpsCap(live.fps)},${fitWithin(live.width, live.height)}`,
    // MPEG-1 knows only a few frame rates; this one is declared, while the frames keep
    // their own timing (vfr): nothing is duplicated to fill the declared rate.
    '-r': mpeg1Rate(live.fps),
    '-fps_mode': 'vfr',
    '-bf': '0',
    '-g': String(Math.max(1, Math.round(live.fps))),
    // The same 1-100 scale as snapshot.quality, as ffmpeg's qscale (2 best, 31 worst).
    '-q:v': String(jpegQscale(live.quality)),
    '-flush_packets': '1',
  };
}

/**
 * Keeps at most `fps` frames a second without ever duplicating one (ffmpeg's fps filter
 * would pad a slower camera). A frame is kept once it is no more than half a period early
 * for its slot (variable 0 holds the slot), so timestamp jitter on a camera that runs at
 * exactly `fps` drops nothing.
 */
export function fpsCap(fps: number): string {
  const period = 1 / fps;
  const slack = period / 2;
  return `select='if(gte(t,ld(0)-${fmt(slack)}),st(0,max(ld(0),t)+${fmt(period)}))'`;
}

/** Scaled down to fit width x height, aspect ratio kept, even sizes (4:2:0), never up. */
export function fitWithin(width: number, height: number): string {
  return (
    `scale=w='min(${width},iw)':h='min(${height},ih)'` +
    ':force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bilinear'
  );
}

/** The smallest frame rate MPEG-1 allows that is at least `fps`. */
export function mpeg1Rate(fps: number): string {
  return String([24, 25, 30].find((rate) => rate >= fps) ?? 30);
}

function fmt(n: number): string {
  return String(Number(n.toFixed(6)));
}
