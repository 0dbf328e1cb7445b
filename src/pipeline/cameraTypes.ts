/** The camera manager's state and the shapes it answers with. */
import type { CameraConfig, Roi } from '../config/types.js';
import type { CameraSource, CameraStatus, RawFrame } from '../camera/cameraSource.js';
import type { EmptyComparison } from '../recognition/regions.js';
import type { EmptyView } from './regionCrops.js';
import type { ClassSmoother } from './smoother.js';

/** Per camera, as in the `stats` MQTT payload. */
export interface CameraStats {
  status: CameraStatus;
  camera_fps: number;
  process_fps: number;
  skipped_fps: number;
  reconnects: number;
}

/** RGB at the detector input size, as the detector sees it. */
export interface LiveFrame { rgb: Uint8Array }

/** One thing a camera classifies: a zone, or its whole frame. */
export interface UnitState {
  zone: string | null;
  roi: Roi | null;
  smoother: ClassSmoother;
  label: string | null;
  /** A pixel zone reaching outside the stream's frame: its results are not published. */
  invalid: boolean;
  /** The newest crop where no region differed and nothing was ON or decided: regions are proposed against it. */
  quiet: Uint8Array | null;
  /** The newest of those the unit decided `none` (quiet may also follow a whole-frame `unknown` without regions): augmented enrollments need it. */
  scene: Uint8Array | null;
  empty: EmptyView; // the snapshot of the frame `quiet` came from: region crops cut objects out against it
  /**
   * The latest inferred crop against `quiet` (null before the unit had an empty view): its
   * regions that differ, its cells that still show the empty view (which the view follows),
   * and the median cell and bar (diagnostics).
   */
  comparison: EmptyComparison | null;
  /** How many decided frames in a row had regions. */
  changedFrames: number;
}

export interface Camera {
  name: string;
  config: CameraConfig;
  source: CameraSource;
  units: UnitState[];
  latest: RawFrame | null;
  /** The stream's size, once ffmpeg named it (cameras with pixel zones). */
  sourceSize: { width: number; height: number } | null;
}

/** Which part of a live frame to take: a zone's crop, or a box of the whole frame. */
export type FrameRegion = { zone: string } | { box: Roi } | Record<string, never>;

