import { after } from 'node:test';
import type { CameraManager } from '../../src/pipeline/cameraManager.js';
import { tempDir } from '../helpers/env.js';
import type { StartedImprinting } from '../helpers/imprinting.js';
import type { RtspServer } from '../helpers/rtspServer.js';

/** What a camera test over RTSP starts: its folder, the RTSP server, the imprinting core and the cameras. */
export interface CameraRig {
  dir: { path: string; cleanup: () => void };
  server: RtspServer | null;
  core: StartedImprinting | null;
  manager: CameraManager | null;
}

/** A rig whose parts are stopped after the file's tests, cameras first, whatever was started. */
export function cameraRig(prefix: string): CameraRig {
  const rig: CameraRig = { dir: tempDir(prefix), server: null, core: null, manager: null };
  after(async () => {
    await rig.manager?.stop().catch(() => undefined);
    await rig.core?.stop().catch(() => undefined);
    await rig.server?.stop().catch(() => undefined);
    rig.dir.cleanup();
  });
  return rig;
}
