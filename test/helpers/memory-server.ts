/**
 * A VTP Live runtime in a child process of its own (forked by tests), so its memory can be
 * measured apart from the test's clients. It sends `{url}` once listening and answers each
 * 'measure' message with `{rss, held}` after a full garbage collection.
 */
import { createRuntime } from '../../src/server.js';

const runtime = createRuntime({ longPollMs: 200 });
const url = await runtime.listen('127.0.0.1', 0);
const gc = (globalThis as { gc?: () => void }).gc;
process.send?.({ url });
process.on('message', (message) => {
  if (message === 'measure') {
    gc?.();
    gc?.();
    process.send?.({ rss: process.memoryUsage().rss, held: runtime.ingest.heldBytes() });
  } else if (message === 'close') {
    void runtime.close(1000).then(() => process.exit(0));
  }
});
