/**
 * The live view's ffmpeg, started through node-rtsp-stream's Mpeg1Muxer (its muxer only:
 * the WebSocket side is ours, see liveStream.ts).
 *
 * The muxer spawns `<ffmpegPath> -i <url> -f mpegts -codec:v mpeg1video <options> -` and
 * cannot put options before `-i`, where the RTSP transport, the probing limits and the
 * launch prefix that ties ffmpeg's life to the agent's must go. So its `ffmpegPath` is a
 * small launcher (muxerLauncher.sh) that reads that part from stdin and execs it followed
 * by the muxer's arguments: one process, ffmpeg's pid, ffmpeg's exit status.
 */
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import Mpeg1Muxer from 'node-rtsp-stream/mpeg1muxer.js';

export interface MuxerSpec {
  /** What runs before the muxer's arguments: the launch prefix, ffmpeg and its input options. */
  command: readonly string[];
  /** The input, after `-i`. */
  url: string;
  /** Output options, after the muxer's `-f mpegts -codec:v mpeg1video`. */
  outputOptions: Readonly<Record<string, string>>;
}

export interface MuxerHandle {
  child: ChildProcess;
  /** Emits 'mpeg1data' (MPEG-TS chunks) and 'ffmpegStderr' (stderr chunks), as the muxer does. */
  events: EventEmitter;
}

export type StartMuxer = (spec: MuxerSpec) => MuxerHandle;

/** Next to this module in src/ and, copied by the build, in dist/. */
export const MUXER_LAUNCHER = fileURLToPath(new URL('./muxerLauncher.sh', import.meta.url));

/** Starts ffmpeg through Mpeg1Muxer. Throws (nothing started) when the command cannot be passed on. */
export function startMpeg1Muxer(spec: MuxerSpec): MuxerHandle {
  // The launcher splits its stdin on line breaks.
  if (spec.command.some((arg) => arg === '' || /[\n\r\0]/.test(arg))) {
    throw new Error('an ffmpeg input argument is empty or holds a line break');
  }
  const muxer = new Mpeg1Muxer({ url: spec.url, ffmpegPath: MUXER_LAUNCHER, ffmpegOptions: { ...spec.outputOptions } });
  const child = muxer.stream;
  // The muxer's own exit handler prints "RTSP stream exited with error" on the console for
  // every exit with code 1, outside the agent's log; the live stream watches exits itself.
  child.removeAllListeners('exit');
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(`${spec.command.join('\n')}\n`);
  return { child, events: muxer };
}
