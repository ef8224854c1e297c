/**
 * A VTP Live runtime in a child process of its own (forked by startMeasuredServer), so its memory
 * can be measured apart from the test's clients. Runtime options come as JSON in
 * VTP_TEST_RUNTIME. It sends `{url}` once listening and answers each 'measure' message with
 * its figures after a full garbage collection, and each 'count' with the streams it holds.
 */
import { createRuntime, type RuntimeOptions } from '../../src/server.js';

const options = JSON.parse(process.env.VTP_TEST_RUNTIME ?? '{}') as RuntimeOptions;
const runtime = createRuntime({ longPollMs: 200, ...options });
const url = await runtime.listen('127.0.0.1', 0);
const gc = (globalThis as { gc?: () => void }).gc;
process.send?.({ url });
process.on('message', (message) => {
  if (message === 'measure') {
    gc?.();
    gc?.();
    const memory = process.memoryUsage();
    process.send?.({
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      held: runtime.ingest.heldBytes(),
      streams: runtime.service.streamDistributors().length,
    });
  } else if (message === 'count') {
    process.send?.({ streams: runtime.service.streamDistributors().length });
  } else if (message === 'close') {
    void runtime.close(1000).then(() => process.exit(0));
  }
});
