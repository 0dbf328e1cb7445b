import type { EnrollAnswered, EventBus } from '../eventBus.js';
import { lastEnrollmentTopic } from './topics.js';
import type { MqttTransport } from './transport.js';

/** `ok`: stored, nothing to say; `warning`: stored, but read the warnings; `error`: nothing stored. */
export const LAST_ENROLLMENT_STATES = ['ok', 'warning', 'error'] as const;
export type LastEnrollmentState = (typeof LAST_ENROLLMENT_STATES)[number];

export interface LastEnrollmentPayload {
  /** Not `state`: Home Assistant drops an attribute of that name. */
  result: LastEnrollmentState;
  label: string | null;
  status: 'ok' | 'error';
  /** The error's code and message (`result: error`), else null. */
  code: string | null;
  error: string | null;
  recognised_in: unknown[];
  warning: Array<{ code: string; message: string }>;
  source: EnrollAnswered['source'];
  camera: string | null;
  zone: string | null;
  box: boolean;
  time: string;
}

/** The retained payload of `<base>/last_enrollment` for one answer. Pure. */
export function lastEnrollmentPayload(answer: EnrollAnswered): LastEnrollmentPayload {
  const { request, response } = answer;
  const data = response.status === 'ok' && isObject(response.data) ? response.data : {};
  const warning = Array.isArray(data.warning) ? (data.warning as LastEnrollmentPayload['warning']) : [];
  const result: LastEnrollmentState = response.status === 'error' ? 'error' : warning.length > 0 ? 'warning' : 'ok';
  return {
    result,
    label: typeof data.label === 'string' ? data.label : request.label,
    status: response.status,
    code: response.status === 'error' ? (response.code ?? 'internal') : null,
    error: response.status === 'error' ? (response.error ?? null) : null,
    recognised_in: Array.isArray(data.recognised_in) ? data.recognised_in : [],
    warning,
    source: answer.source,
    camera: request.camera,
    zone: request.zone,
    box: request.box,
    time: answer.at.toISOString(),
  };
}

/** Publishes every enrollment answer on the bus, retained, so a late subscriber (HA) sees the latest. */
export class LastEnrollment {
  private off: (() => void) | null = null;

  constructor(private readonly deps: { transport: MqttTransport; bus: EventBus; baseTopic: string }) {}

  async start(): Promise<void> {
    this.off = this.deps.bus.on('enrollAnswered', (answer) => {
      const body = JSON.stringify(lastEnrollmentPayload(answer));
      void this.deps.transport.publish(lastEnrollmentTopic(this.deps.baseTopic), body, { retain: true, qos: 1 });
    });
  }

  async stop(): Promise<void> {
    this.off?.();
    this.off = null;
  }
}

/** What a class/enroll request asked, read leniently: the request may be the malformed one refused. */
export function enrollRequestOf(payload: unknown): EnrollAnswered['request'] {
  const p = isObject(payload) ? payload : {};
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  return { label: text(p.label), camera: text(p.camera), zone: text(p.zone), box: p.box !== undefined };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
