import { scrubSecrets } from '../config/redact.js';

/** A child's last stderr lines, scrubbed on the way in so that nothing can log a raw one later. */
export class StderrRing {
  private lines: string[] = [];
  private partial = '';

  constructor(
    private readonly size: number,
    private readonly secrets: readonly string[],
  ) {}

  /** Adds a chunk; returns the complete, non-blank lines it ended, scrubbed. */
  push(chunk: Buffer | string): string[] {
    // ffmpeg ends its progress lines with \r.
    const parts = (this.partial + chunk.toString()).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    const added = parts.filter((line) => line.trim() !== '').map((line) => scrubSecrets(line, this.secrets));
    this.lines.push(...added);
    if (this.lines.length > this.size) this.lines.splice(0, this.lines.length - this.size);
    return added;
  }

  /** The kept lines, oldest first (a copy). */
  all(): string[] {
    return [...this.lines];
  }

  last(): string | undefined {
    return this.lines[this.lines.length - 1];
  }

  clear(): void {
    this.lines = [];
    this.partial = '';
  }
}
