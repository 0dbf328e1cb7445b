/**
 * Cuts ffmpeg's raw video byte stream into frames of exactly `frameBytes`. Pipe reads
 * arrive in arbitrary chunk sizes, so a frame can span several chunks and a chunk several
 * frames. Each emitted frame is its own (unpooled) buffer: consumers may keep it.
 */
export class FrameSplitter {
  private current: Buffer;
  private filled = 0;

  constructor(
    private readonly frameBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
  ) {
    this.current = Buffer.allocUnsafeSlow(frameBytes);
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      chunk.copy(this.current, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.frameBytes) {
        const frame = this.current;
        this.current = Buffer.allocUnsafeSlow(this.frameBytes);
        this.filled = 0;
        this.onFrame(frame);
      }
    }
  }

  /** Drops a partial frame (after ffmpeg restarts, its first bytes start a new frame). */
  reset(): void {
    this.filled = 0;
  }
}

/**
 * Cuts an image2pipe MJPEG stream into JPEG files at SOI (FFD8) … EOI (FFD9). ffmpeg's
 * encoder writes no embedded thumbnails, and 0xFF in entropy-coded data is always
 * followed by 0x00 or a restart marker, so the first EOI after an SOI ends the image.
 */
export class JpegSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onJpeg: (jpeg: Buffer) => void,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const start = this.pending.indexOf(SOI);
      if (start < 0) {
        // Keep a trailing 0xFF: it may be the first half of an SOI split across reads.
        const last = this.pending[this.pending.length - 1];
        this.pending = last === 0xff ? Buffer.from([0xff]) : Buffer.alloc(0);
        return;
      }
      const end = this.pending.indexOf(EOI, start + 2);
      if (end < 0) {
        this.pending = this.pending.subarray(start);
        // A stream that never closes an image must not grow without bound.
        if (this.pending.length > this.maxBytes) this.pending = Buffer.alloc(0);
        return;
      }
      this.onJpeg(Buffer.from(this.pending.subarray(start, end + 2)));
      this.pending = this.pending.subarray(end + 2);
    }
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}

const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);
