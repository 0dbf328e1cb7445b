/** Collects benchmark rows: every ratio is printed with both of its sides. */
export interface Row {
  section: string;
  figure: string;
  value: string;
  target: string;
  /** undefined when the figure has no pass/fail target (reported only). */
  ok?: boolean;
}

export class Report {
  readonly rows: Row[] = [];

  constructor(private readonly print: (line: string) => void) {}

  add(row: Row): void {
    this.rows.push(row);
    const verdict = row.ok === undefined ? '' : row.ok ? '  [ok]' : '  [MISSED]';
    this.print(`  ${row.figure}: ${row.value} (target ${row.target})${verdict}`);
  }

  line(text: string): void {
    this.print(text);
  }

  table(): string {
    const lines = ['| section | figure | measured | target | |', '| --- | --- | --- | --- | --- |'];
    for (const r of this.rows) {
      lines.push(`| ${r.section} | ${r.figure} | ${r.value} | ${r.target} | ${r.ok === undefined ? '' : r.ok ? 'ok' : 'missed'} |`);
    }
    return lines.join('\n');
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export const ms = (v: number): string => `${v.toFixed(2)} ms`;
