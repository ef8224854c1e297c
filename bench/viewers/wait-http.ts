/** Polls a URL until it answers with `okStatus`, failing fast if the server process dies. */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export async function waitForHttp(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  okStatus: (status: number) => boolean = (status) => status < 500,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before answering ${url}`);
    }
    try {
      const response = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await response.body.dump();
      if (okStatus(response.statusCode)) return;
      last = `status ${response.statusCode}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})`);
}
