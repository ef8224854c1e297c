/**
 * npm run bench:ab -- REV: the HLS hot paths (session lookup, a media playlist for a session, a
 * segment fetched and accounted) of the code at git revision REV against the working tree, in
 * one process with alternating rounds, so the machine's drift between runs cancels out. REV is
 * checked out once under bench/.cache/. Prints each path's median ops/s and the ratio new/old.
 * A tree that has the state store runs with it on, as `vtp-live serve` does: a SQLite store in a
 * temporary data directory, its recorder following every session (AB_STORE=off leaves it out,
 * to tell the store's share from the code's).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { populateLiveStream } from './live-stream.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rev = process.argv[2];
if (!rev) {
  console.error('usage: npm run bench:ab -- <git revision to compare with>');
  process.exit(2);
}
const commit = execFileSync('git', ['rev-parse', '--short', rev], { cwd: ROOT }).toString().trim();
const oldTree = path.join(ROOT, 'bench', '.cache', `ab-${commit}`);
if (!existsSync(oldTree)) {
  execFileSync('git', ['worktree', 'add', '--detach', oldTree, commit], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(oldTree, 'node_modules'));
}

const SEGMENT = new Uint8Array(1024);
const N = 100_000;
const ROUNDS = 20;

// biome-ignore lint/suspicious/noExplicitAny: another revision's classes have no types here
type Revision = any;
type Loaded = { service: Revision; hls: Revision; sessions: string[]; segment: unknown };

/** A stream with N joined viewers and 15 segments per rendition, built by one tree's code. */
async function build(tree: string): Promise<Loaded> {
  // Each tree's modules: the comparison needs whatever shape that revision had.
  const { DistributionService } = await import(
    path.join(tree, 'src/service/distribution-service.ts')
  );
  const { HlsDelivery } = await import(path.join(tree, 'src/service/hls-delivery.ts'));
  const service = new DistributionService({ defaultMaxViewers: N });
  await recordState(tree, service);
  const sessions = populateLiveStream(service, N, SEGMENT);
  const hls = new HlsDelivery(service, { playlistSegments: 6 });
  return {
    service,
    hls,
    sessions,
    segment: service.getDistributor('bench').window('Low').get('14.ts'),
  };
}

const dataDirs: string[] = [];

/** Puts the tree's state store and recorder on the service, when the tree has them. */
async function recordState(tree: string, service: Revision): Promise<void> {
  const recorderFile = path.join(tree, 'src/storage/state-recorder.ts');
  if (!existsSync(recorderFile) || process.env.AB_STORE === 'off') return;
  const { StateRecorder } = await import(recorderFile);
  const { SqliteStore } = await import(path.join(tree, 'src/storage/sqlite-store.ts'));
  const dir = mkdtempSync(path.join(tmpdir(), 'vtp-bench-ab-'));
  dataDirs.push(dir);
  const keys = { onPublishKeySet: () => {}, hasStreamKey: () => false };
  new StateRecorder(service, new SqliteStore(path.join(dir, 'vtp.db')), keys).start();
  console.log(`${path.relative(ROOT, tree) || 'working tree'}: state store on (${dir})`);
}

/** Results seen: printed at the end, so no path's work is dead code. */
let found = 0;

const paths: Record<string, (s: Loaded, i: number) => unknown> = {
  'findSession (by session id)': (s, i) => s.service.findSession(s.sessions[i]),
  'media playlist for a session': (s, i) =>
    s.hls.mediaPlaylist('bench', 'Low', { sessionId: s.sessions[i] }),
  'segment fetch for a session': (s, i) => {
    const report = { sessionId: s.sessions[i] };
    s.hls.claimSeat?.('bench', report); // absent before anonymous seats existed
    s.hls.object('bench', 'Low', '14.ts');
    return s.hls.recordSegmentSent('bench', s.segment, SEGMENT.byteLength, 1, report);
  },
};

const before = await build(oldTree);
const after = await build(ROOT);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
console.log(
  `HLS hot paths, ${commit} (old) against the working tree (new), ${N.toLocaleString('en-US')} sessions\n`,
);
console.log('| path | old ops/s | new ops/s | new / old |');
console.log('|---|---:|---:|---:|');
for (const [name, op] of Object.entries(paths)) {
  const rates = { old: [] as number[], new: [] as number[] };
  // Round 0 warms both up; after that the order alternates so neither always runs first.
  for (let r = 0; r <= ROUNDS; r++) {
    const order =
      r % 2
        ? ([
            ['old', before],
            ['new', after],
          ] as const)
        : ([
            ['new', after],
            ['old', before],
          ] as const);
    for (const [label, state] of order) {
      (globalThis as { gc?: () => void }).gc?.();
      const start = process.hrtime.bigint();
      // Every result is used, so the compiler cannot drop a lookup whose answer goes unread.
      for (let i = 0; i < N; i++) if (op(state, i) !== undefined) found++;
      const ns = Number(process.hrtime.bigint() - start);
      if (r > 0) rates[label].push((N * 1e9) / ns);
    }
  }
  const [o, n] = [median(rates.old), median(rates.new)];
  console.log(
    `| ${name} | ${Math.round(o).toLocaleString('en-US')} | ${Math.round(n).toLocaleString('en-US')} | ${(n / o).toFixed(3)} |`,
  );
}
console.log(`\n(${found.toLocaleString('en-US')} results seen)`);
for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
