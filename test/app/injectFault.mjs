// Preloaded into an agent process by test/app/processGuard.test.ts (NODE_OPTIONS=--import):
// on SIGUSR2 it makes the error no part of the agent catches, as a bug would:
// INJECT_FAULT=rejection rejects a promise nobody handles; =exception throws from a callback.
process.on('SIGUSR2', () => {
  if (process.env.INJECT_FAULT === 'rejection') void Promise.reject(new Error('injected rejection'));
  if (process.env.INJECT_FAULT === 'exception') {
    process.nextTick(() => {
      throw new Error('injected exception');
    });
  }
});
