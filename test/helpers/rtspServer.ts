import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, freePort, image } from './env.js';

const PYTHON = '/usr/bin/python3';
const SERVER_SCRIPT = join(ROOT, 'test', 'helpers', 'rtsp_server.py');

/** The clip the camera tests stream: the classes in a known order, then a background. */
export const DEFAULT_CLIP_IMAGES = [
  image('dog_test_0.jpg'),
  image('cat_test_0.jpg'),
  image('hotdog_test_0.jpg'),
  image('sunflower.jpg'),
];

export interface ClipOptions {
  images?: string[];
  secondsEach?: number;
  /** How many times the whole sequence is repeated in the file (stream copy, cheap). */
  repeat?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  /** Grain added to every frame so P-frames carry real data (decoder benchmarks). */
  noise?: number;
  /** libx264 preset (default veryfast). */
  preset?: string;
}

/** Builds an H.264 MP4 from still photos: `secondsEach` of each, letterboxed. */
export function buildTestClip(dir: string, name: string, options: ClipOptions = {}): string {
  const images = options.images ?? DEFAULT_CLIP_IMAGES;
  const seconds = options.secondsEach ?? 4;
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const fps = options.fps ?? 10;
  const once = join(dir, `${name}.once.mp4`);
  const inputs = images.flatMap((img) => ['-loop', '1', '-framerate', String(fps), '-t', String(seconds), '-i', img]);
  const noise = options.noise ? `,noise=alls=${options.noise}:allf=t` : '';
  const scaled = images
    .map(
      (_, i) =>
        `[${i}:v]scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
        `pad=${width}:${height}:-1:-1,setsar=1,format=yuv420p${noise}[v${i}]`,
    )
    .join(';');
  const concat = `${images.map((_, i) => `[v${i}]`).join('')}concat=n=${images.length}:v=1:a=0[out]`;
  run([
    ...inputs,
    '-filter_complex',
    `${scaled};${concat}`,
    '-map',
    '[out]',
    '-c:v',
    'libx264',
    '-preset',
    options.preset ?? 'veryfast',
    '-profile:v',
    'main',
    '-bf',
    '0',
    '-g',
    String(options.gop ?? fps),
    '-r',
    String(fps),
    '-pix_fmt',
    'yuv420p',
    once,
  ]);
  const repeat = options.repeat ?? 1;
  if (repeat <= 1) return once;
  const looped = join(dir, `${name}.mp4`);
  run(['-stream_loop', String(repeat - 1), '-i', once, '-c', 'copy', looped]);
  return looped;
}

function run(args: string[]): void {
  const result = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
}

export interface RtspServer {
  port: number;
  url: string;
  pid: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: the server vanishes without a goodbye. */
  kill(): Promise<void>;
}

/** Starts GStreamer's RTSP server on loopback; resolves once it is listening. */
export async function startRtspServer(opts: { file: string; port?: number; path?: string }): Promise<RtspServer> {
  const port = opts.port ?? (await freePort());
  const path = opts.path ?? '/cam';
  const child = spawn(PYTHON, [SERVER_SCRIPT, '--port', String(port), '--file', opts.file, '--path', path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitReady(child);
  const end = ender(child);
  return {
    port,
    url: `rtsp://127.0.0.1:${port}${path}`,
    pid: child.pid ?? -1,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** Ends the server with a signal and resolves once it has exited (at once if it had). */
function ender(child: ChildProcess): (signal: NodeJS.Signals) => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`RTSP server not ready after 10 s: ${stderr}`));
    }, 10_000);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`RTSP server exited (${code}): ${stderr}`));
    });
  });
}

export interface LiveRtspServer extends RtspServer {
  /**
   * Changes the picture's colour (`0xAARRGGBB`) from its next frame on; resolves with the
   * time (Date.now()) the command was sent, once the server confirms it.
   */
  setColor(argb: string): Promise<number>;
}

/**
 * A live camera: one solid colour made and encoded as it is served (x264, zero latency),
 * shared by every client, its colour changed on request. For latency benchmarks.
 */
export async function startLiveRtspServer(opts: { port?: number; path?: string; size?: string; fps?: number } = {}): Promise<LiveRtspServer> {
  const port = opts.port ?? (await freePort());
  const path = opts.path ?? '/live';
  const args = [SERVER_SCRIPT, '--port', String(port), '--live', '--path', path, '--size', opts.size ?? '640x480', '--fps', String(opts.fps ?? 10)];
  const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  await waitReady(child);
  const end = ender(child);
  const confirmed: Array<(line: string) => void> = [];
  child.stdout?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.startsWith('COLOR ')) confirmed.shift()?.(line);
  });
  return {
    port,
    url: `rtsp://127.0.0.1:${port}${path}`,
    pid: child.pid ?? -1,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    setColor: (argb) =>
      new Promise<number>((resolve) => {
        const sent = Date.now();
        confirmed.push(() => resolve(sent));
        child.stdin?.write(`color ${argb}\n`);
      }),
  };
}
