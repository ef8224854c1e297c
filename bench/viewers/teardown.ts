/** Cleanups that must run even on SIGINT/SIGTERM: stop servers, workers and the replayer. */

type Cleanup = () => Promise<void> | void;
const cleanups = new Set<Cleanup>();

/** Registers `cleanup` for signal-driven teardown; returns the function that unregisters it. */
export function onTeardown(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** On SIGINT/SIGTERM: runs every registered cleanup (newest first), then exits 130. */
export function installSignalTeardown(log: (line: string) => void): void {
  let tearingDown = false;
  const handle = (signal: NodeJS.Signals) => {
    if (tearingDown) return;
    tearingDown = true;
    log(`${signal}: tearing down`);
    const pending = [...cleanups].reverse().map(async (cleanup) => cleanup());
    Promise.allSettled(pending).finally(() => process.exit(130));
  };
  process.once('SIGINT', handle);
  process.once('SIGTERM', handle);
}
