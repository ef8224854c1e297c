import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { type CrashReport, crashContent } from './segment-files-crash-content.js';
import { tempDir } from './store-fixtures.js';

const CHILD = path.join(import.meta.dirname, 'segment-files-crash-child.ts');
const ROUNDS = 5;

/** Starts the writer child; resolves once it is writing segments. */
async function startWriter(dataDir: string, incarnation: string, resolved: CrashReport[]) {
  const child: ChildProcess = fork(CHILD, [dataDir, incarnation], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const closed = once(child, 'close');
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: CrashReport | 'ready') => {
      if (message === 'ready') resolve();
      else resolved.push(message);
    });
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  return { child, closed };
}

describe('SegmentFiles after SIGKILL', () => {
  it('never keeps a partial file and keeps every write that resolved before the kill', async (t) => {
    const dataDir = await tempDir(t, 'vtp-segment-crash-');
    let leftovers = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A new incarnation per run, as a restarted server draws one.
      const incarnation = `run${round}abcdef0`;
      const resolved: CrashReport[] = [];
      const { child, closed } = await startWriter(dataDir, incarnation, resolved);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 250));
      assert.ok(child.kill('SIGKILL'));
      await closed;
      assert.ok(resolved.length > 0, `round ${round}: the writer resolved no write`);

      const { files, problems } = await new SegmentFiles(dataDir).scan();
      // A killed process can leave unfinished writes (deleted), never a damaged commit.
      assert.deepEqual(
        problems.filter((p) => p.action !== 'deleted'),
        [],
        `round ${round}: ${problems.map((p) => p.message).join('\n')}`,
      );
      leftovers += problems.length;
      // Every file the scan keeps is whole: its bytes are exactly what the writer meant.
      for (const file of files) {
        const sequence = file.meta.kind === 'init' ? -1 : file.meta.sequence;
        const disk = await readFile(
          path.join(dataDir, 'segments', 'crash', file.incarnation, file.profile, file.fileName),
        );
        assert.ok(
          disk.equals(crashContent(file.incarnation, file.profile, sequence)),
          `${file.incarnation}/${file.profile}/${file.fileName} is not whole`,
        );
      }
      // Every write whose promise resolved is there.
      const kept = new Set(files.map((f) => `${f.incarnation}/${f.profile}/${f.fileName}`));
      for (const write of resolved) {
        assert.ok(kept.has(`${incarnation}/${write.profile}/${write.fileName}`), write.fileName);
      }
      t.diagnostic(
        `round ${round}: ${resolved.length} writes resolved, ${files.length} files kept in all, ${problems.length} unfinished writes cleaned up`,
      );
    }
    // The kills did land mid-write, which is what this test is about.
    assert.ok(leftovers > 0, 'no kill interrupted a write');
  });
});
