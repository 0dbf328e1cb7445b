import { AppError } from '../errors.js';

/** One configuration problem. `value` is already safe to show (secrets hidden). */
export interface ConfigIssue {
  path: string;
  message: string;
  value?: string;
}

/** `mqtt.port: must be an integer ("abc")` */
export function formatIssue(issue: ConfigIssue): string {
  return issue.value === undefined ? `${issue.path}: ${issue.message}` : `${issue.path}: ${issue.message} (${issue.value})`;
}

/**
 * Thrown by loadConfig: every problem at once. `message` is one line per problem, so a CLI
 * can print it as it is.
 */
export class ConfigError extends AppError {
  readonly lines: string[];

  constructor(readonly issues: ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    super('config', lines.join('\n'));
    this.name = 'ConfigError';
    this.lines = lines;
  }
}
