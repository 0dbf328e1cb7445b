/**
 * Runs commands in their lanes and turns every request into exactly one outcome: a parse
 * error, `busy` when its lane is full, `timeout` past its deadline, or the work's result.
 */
import { AppError } from '../errors.js';
import { Lane, type Job, type LaneName, type Outcome } from './lanes.js';

export interface RunnerOptions {
  /** Jobs waiting and running per lane before `busy` (limits.queue_size). */
  capacity: number;
  /** How long stop() waits for aborted work to notice (it is answered at once anyway). */
  stopGraceMs?: number;
}

/** How many jobs of a lane run at once: image decoding overlaps with inference, the rest is serial. */
const CONCURRENCY: Record<LaneName, number> = { control: 1, images: 2, camera: 1 };

export class CommandRunner {
  private readonly lanes: Record<LaneName, Lane>;

  constructor(private readonly opts: RunnerOptions) {
    const lane = (name: LaneName) => new Lane(name, { capacity: opts.capacity, concurrency: CONCURRENCY[name] });
    this.lanes = { control: lane('control'), images: lane('images'), camera: lane('camera') };
  }

  /** Never rejects. `makeJob` throws AppError for a malformed request. */
  async run(makeJob: () => Job): Promise<Outcome> {
    let job: Job;
    try {
      job = makeJob();
    } catch (error) {
      return { ok: false, error };
    }
    const lane = this.lanes[job.lane];
    const outcome = lane.submit(job);
    if (outcome) return outcome;
    const busy = new AppError('busy', `too many ${job.lane} requests waiting (limits.queue_size ${this.opts.capacity}); retry later`);
    return { ok: false, error: busy };
  }

  /** Requests in each lane (waiting and running), for metrics and tests. */
  sizes(): Record<LaneName, number> {
    return { control: this.lanes.control.size, images: this.lanes.images.size, camera: this.lanes.camera.size };
  }

  /** Answers everything waiting or running (`busy`: stopping) and returns within the grace time. */
  async stop(): Promise<void> {
    const grace = this.opts.stopGraceMs ?? 1000;
    await Promise.all(Object.values(this.lanes).map((lane) => lane.close(grace)));
  }
}
