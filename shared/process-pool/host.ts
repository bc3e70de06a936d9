/**
 * Child side of the process pool: loads the work module named on the command line and answers
 * one call at a time over IPC. When the parent goes away, the host kills its own process group so
 * no orphaned subprocess outlives the worker that started it.
 */
import { pathToFileURL } from 'node:url';

type Work = (input: unknown) => Promise<unknown>;

const modulePath = process.argv[2];
if (!modulePath || !process.send) {
  console.error('process-host: needs a module path and an IPC channel');
  process.exit(2);
}

// Loaded at once, not on the first call; a module may also export `warm()` (preload fonts, say),
// run here too, so the first job does not pay for either.
const loaded = import(pathToFileURL(modulePath).href).then(async (mod: { default?: Work; warm?: () => unknown }) => {
  if (typeof mod.default !== 'function') throw new Error(`${modulePath} has no default export function`);
  await mod.warm?.();
  return mod.default;
});
// A failed load is reported to every call (below); it must not crash the child before that.
loaded.catch(() => undefined);

process.on('message', (message: { id: number; input: unknown }) => {
  void (async () => {
    try {
      const work = await loaded;
      const value = await work(message.input);
      process.send?.({ id: message.id, ok: true, value });
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      process.send?.({ id: message.id, ok: false, error: err.message, name: err.name });
    }
  })();
});

process.on('disconnect', () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(0);
  }
});
