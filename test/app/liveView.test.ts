/**
 * The live view in the running agent (`edge-imprint run`): served on the agent's own HTTP
 * port next to /health, and gone with the agent when it stops while someone watches.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startAgentProcess } from '../helpers/agentProcess.js';
import { freePort, tempDir, waitFor } from '../helpers/env.js';
import { alive, descendants } from '../helpers/processes.js';
import { buildTestClip } from '../helpers/rtspServer.js';
import { cmdline, hasSequenceHeader, isMpegTs, refusal, watch } from '../web/live/helpers.js';

void describe('live view in the agent', { timeout: 180_000 }, () => {
  const dir = tempDir('edge-imprint-app-live-');
  after(() => dir.cleanup());

  void it('serves /live/<camera> on the HTTP port; SIGTERM with a viewer watching stops the agent and its live ffmpeg', async () => {
    const clip = buildTestClip(dir.path, 'door', { secondsEach: 2, fps: 10 });
    const agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { embedded: { port: await freePort() } },
        detector: { type: 'cpu' },
        cameras: { door: { url: clip, fps: 2 } },
      },
    });
    try {
      const liveFfmpegs = () => descendants(agent.pid).filter((pid) => cmdline(pid).includes('mpeg1video'));
      assert.deepEqual(liveFfmpegs(), [], 'no live ffmpeg before anyone watches');
      assert.equal(await refusal(agent.httpPort, '/live/garage'), 404);
      const viewer = await watch(agent.httpPort, 'door');
      await waitFor(() => viewer.bytes() > 20_000, 20_000, 'live video');
      assert.ok(isMpegTs(viewer.data()));
      assert.ok(hasSequenceHeader(viewer.messages[0] ?? Buffer.alloc(0)));
      const [ffmpeg] = liveFfmpegs();
      assert.ok(ffmpeg, 'the live ffmpeg is a child of the agent');

      assert.equal(await agent.stop(), 0, 'a clean exit, not held up by the open WebSocket');
      assert.equal((await viewer.closed).code, 1001);
      await waitFor(() => !alive(ffmpeg), 3000, 'the live ffmpeg gone');
    } finally {
      await agent.kill();
    }
  });
});
