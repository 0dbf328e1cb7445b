/** The part of jsmpeg's API (window.JSMpeg, from jsmpeg.min.js) the live page uses. */
interface JSMpegPlayer {
  destroy(): void;
}

interface JSMpegPlayerOptions {
  canvas: HTMLCanvasElement;
  audio: boolean;
  autoplay: boolean;
  pauseWhenHidden: boolean;
  videoBufferSize: number;
  reconnectInterval: number;
  onVideoDecode?: () => void;
}

interface Window {
  JSMpeg?: { Player: new (url: string, options: JSMpegPlayerOptions) => JSMpegPlayer };
}
