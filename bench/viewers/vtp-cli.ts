/** The VTP Live CLI the bench runs: this checkout's build, or BENCH_VTP_CLI (another build to compare). */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const VTP_CLI = resolve(REPO_ROOT, process.env.BENCH_VTP_CLI ?? 'dist/cli.js');
