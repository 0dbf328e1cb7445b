/** node-rtsp-stream ships no types; this is the part of it the live view uses. */
declare module 'node-rtsp-stream/mpeg1muxer.js' {
  import type { ChildProcess } from 'node:child_process';
  import { EventEmitter } from 'node:events';

  interface Mpeg1MuxerOptions {
    url: string;
    ffmpegPath: string;
    /** Flattened in insertion order into `key value` pairs (`key` alone when value is ''). */
    ffmpegOptions?: Record<string, string>;
  }

  /**
   * Spawns `<ffmpegPath> -i <url> -f mpegts -codec:v mpeg1video <options> -` in its
   * constructor; emits 'mpeg1data' (stdout chunks) and 'ffmpegStderr' (stderr chunks).
   */
  class Mpeg1Muxer extends EventEmitter {
    constructor(options: Mpeg1MuxerOptions);
    readonly stream: ChildProcess;
  }

  export = Mpeg1Muxer;
}
