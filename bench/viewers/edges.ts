/** nginx edge processes in front of a VTP Live origin, configured by `vtp-live edge-config`. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './child-process.js';
import { freePort } from './free-port.js';
import { launchNginx, type NginxServer } from './nginx.js';
import { RowSkipped } from './row-skipped.js';
import { REPO_ROOT, VTP_CLI } from './vtp-cli.js';

/** Connections per edge worker: as the nginx baseline has, so no edge runs out of them first. */
const WORKER_CONNECTIONS = 16384;

/** The nginx.conf `dist/cli.js edge-config` prints; RowSkipped when the CLI has no such command. */
async function edgeConfig(origin: string, listen: string, dir: string): Promise<string> {
  const args = [VTP_CLI, 'edge-config', '--origin', origin, '--listen', listen];
  // Pid, temp files and error log in the edge's own directory: two edges run side by side.
  args.push('--cache-dir', join(dir, 'cache'), '--run-dir', join(dir, 'run'));
  args.push('--worker-connections', String(WORKER_CONNECTIONS));
  const { code, stdout, stderr } = await run(process.execPath, args, REPO_ROOT);
  if (code === 0 && stdout.trim() !== '') return stdout;
  const said = stderr.trim().split('\n')[0];
  if (/unknown command/i.test(stderr)) {
    throw new RowSkipped(`\`vtp-live edge-config\` is not in ${VTP_CLI} yet (${said})`);
  }
  if (/unknown option/i.test(stderr)) {
    throw new RowSkipped(`\`vtp-live edge-config\` in ${VTP_CLI} refused a flag (${said})`);
  }
  throw new Error(`edge-config exited with ${code}: ${stderr.trim().slice(-500)}`);
}

/**
 * Main-context directives the bench needs and a generated config may leave out: run in the
 * foreground, a pid file of its own (two edges run at once), and as root when the bench is
 * root (so workers can write the directories the bench created).
 */
function globalsFor(conf: string, dir: string): string {
  const has = (directive: string) => new RegExp(`^\\s*${directive}\\s`, 'm').test(conf);
  const globals: string[] = [];
  if (!has('daemon')) globals.push('daemon off;');
  if (!has('pid')) globals.push(`pid ${join(dir, 'nginx.pid')};`);
  if (!has('user') && process.getuid?.() === 0) globals.push('user root;');
  return globals.join(' ');
}

/** Starts one edge for `origin` with its config, cache and logs under `dir`. */
export async function startEdge(dir: string, origin: string): Promise<NginxServer> {
  await mkdir(join(dir, 'run'), { recursive: true });
  await chmod(dir, 0o755);
  const port = await freePort();
  let conf = await edgeConfig(origin, `127.0.0.1:${port}`, dir);
  // A daemonising config would leave the bench without the process it must stop.
  conf = conf.replace(/^(\s*)daemon\s+on\s*;/m, '$1daemon off;');
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const edge = `http://127.0.0.1:${port}`;
  return launchNginx({
    dir,
    confPath,
    origin: edge,
    // Any answer means the edge listens; what it proxies is the measurement's business.
    readyUrl: `${edge}/livez`,
    readyStatus: () => true,
    globals: globalsFor(conf, dir),
  });
}
