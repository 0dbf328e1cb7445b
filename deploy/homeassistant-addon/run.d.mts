/** Types of run.mjs for the tests. */
export interface AddonOptions {
  cameras?: Array<{ name: string; url: string; fps?: number }>;
  detector?: 'auto' | 'edgetpu' | 'cpu';
  coral_device?: string;
  mqtt_url?: string;
  mqtt_username?: string;
  mqtt_password?: string;
  dashboard_password?: string;
  log_level?: string;
}
export interface SupervisorMqtt {
  host: string;
  port: number;
  ssl: boolean;
  username?: string;
  password?: string;
}
export const INGRESS_PROXY: string;
export const HTTP_PORT: number;
export function agentEnvironment(options: AddonOptions, extra?: { mqtt?: SupervisorMqtt | null; slug?: string }): Record<string, string>;
