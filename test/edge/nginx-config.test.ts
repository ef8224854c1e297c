import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type EdgeConfigFlags,
  EdgeFlagError,
  edgeConfigFromFlags,
} from '../../src/edge/edge-config-flags.js';
import { parseEdgeLine } from '../../src/edge/edge-report.js';
import {
  EDGE_CONFIG_DEFAULTS,
  EdgeConfigError,
  type EdgeConfigOptions,
  nginxEdgeConfig,
} from '../../src/edge/nginx-config.js';
import { run } from '../helpers/exec.js';
import { NGINX, startNginx } from '../helpers/nginx.js';
import { waitFor } from '../helpers/wait.js';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

let dir: string;
let options: EdgeConfigOptions;

/** `nginx -t` on a configuration: nginx's own parser, with its modules and paths. */
async function nginxAccepts(conf: string): Promise<{ code: number | null; stderr: string }> {
  const file = join(dir, `nginx-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(file, conf);
  return run(NGINX, ['-t', '-c', file, '-p', dir, '-e', join(dir, 'startup.log')]);
}

/** The directive lines of a block, comments left out. */
function directives(conf: string): string[] {
  return conf
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('nginxEdgeConfig', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vtp-edge-config-'));
    // nginx creates the cache directory, not the run directory (its pid file and logs).
    await mkdir(join(dir, 'run'));
    options = {
      origin: 'http://127.0.0.1:8080',
      listen: { host: '127.0.0.1', port: 8081 },
      cacheDir: join(dir, 'cache'),
      runDir: join(dir, 'run'),
      accessLog: join(dir, 'run', 'access.log'),
      reportTo: { host: '127.0.0.1', port: 5140 },
      workerProcesses: 1,
      ...(process.getuid?.() === 0 && { user: 'root' }),
    };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a file nginx -t accepts, for an http and an https origin, with and without reports', async () => {
    const variants: EdgeConfigOptions[] = [
      options,
      { ...options, origin: 'https://127.0.0.1:8443', edgeName: 'edge-1.example' },
      {
        ...options,
        reportTo: undefined,
        accessLog: undefined,
        listen: { host: '::1', port: 8082 },
      },
      // nginx reads the CA file when it loads the configuration: this one must be there.
      { ...options, origin: 'https://127.0.0.1:8444', originCaFile: join(dir, 'origin-ca.pem') },
    ];
    await copyFile(EDGE_CONFIG_DEFAULTS.originCaFile, join(dir, 'origin-ca.pem'));
    for (const variant of variants) {
      const result = await nginxAccepts(nginxEdgeConfig(variant));
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /test is successful/);
    }
  });

  it('caches HLS under the path alone, one origin request for concurrent misses, stale playlists (only) while updating', () => {
    const conf = nginxEdgeConfig(options);
    const lines = directives(conf);
    for (const directive of [
      'proxy_cache vtp_edge;',
      'proxy_cache_key $uri;',
      'proxy_cache_lock on;',
      'add_header X-Cache-Status $upstream_cache_status always;',
    ]) {
      assert.ok(lines.includes(directive), `has ${directive}`);
    }
    const playlists = conf.indexOf('location ~ \\.m3u8$');
    const hls = directives(conf.slice(conf.indexOf('location ~ ^/(live|vod)/'), playlists));
    const stale = hls.filter((line) => line.startsWith('proxy_cache_use_stale '));
    assert.equal(stale.length, 1);
    assert.doesNotMatch(
      stale[0] ?? '',
      /\bupdating\b/,
      'segments: stale only while the origin fails',
    );
    assert.match(stale[0] ?? '', /\berror timeout\b/);
    assert.ok(!hls.some((line) => line.startsWith('proxy_cache_background_update')));
    const playlist = directives(conf.slice(playlists, conf.indexOf('}', playlists)));
    assert.ok(playlist.includes('proxy_cache_background_update on;'));
    assert.match(
      playlist.find((line) => line.startsWith('proxy_cache_use_stale ')) ?? '',
      /\bupdating\b/,
    );
    assert.ok(
      lines.some((line) => /^location ~ \^\/\(live\|vod\)\/ \{$/.test(line)),
      'a cached location for /live/ and /vod/',
    );
  });

  it("leaves lifetimes to the origin's Cache-Control: no proxy_cache_valid, no ignored headers", () => {
    const conf = nginxEdgeConfig(options);
    assert.doesNotMatch(conf, /^\s*proxy_cache_valid/m);
    assert.doesNotMatch(conf, /^\s*proxy_ignore_headers/m);
    assert.doesNotMatch(conf, /^\s*proxy_hide_header\s+Cache-Control/im);
  });

  it('never looks up nor stores a playlist that names a viewer (session, token, CMCD sid) or a live multivariant playlist', () => {
    const conf = nginxEdgeConfig(options);
    const playlist = conf.slice(conf.indexOf('location ~ \\.m3u8$'));
    assert.match(playlist, /proxy_cache_bypass \$vtp_viewer_request \$vtp_multivariant;/);
    assert.match(playlist, /proxy_no_cache \$vtp_viewer_request \$vtp_multivariant;/);
    assert.match(
      conf,
      /map "\$arg_session\$arg_token\$vtp_cmcd_query_sid\$vtp_cmcd_header_sid" \$vtp_viewer_request/,
    );
    assert.match(conf, /map \$http_cmcd_session \$vtp_cmcd_header_sid/);
  });

  it('forwards the viewer address, scheme and host, and keeps the origin its own Host', () => {
    const lines = directives(nginxEdgeConfig(options));
    for (const directive of [
      'proxy_set_header Host 127.0.0.1:8080;',
      'proxy_set_header X-Forwarded-For $remote_addr;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Forwarded-Host $http_host;',
      'server 127.0.0.1:8080;',
      'listen 127.0.0.1:8081;',
    ]) {
      assert.ok(lines.includes(directive), `has ${directive}`);
    }
  });

  it('reports every request to the origin over syslog in the format the parser reads', () => {
    const conf = nginxEdgeConfig({ ...options, edgeName: 'edge-a' });
    assert.match(
      conf,
      /access_log syslog:server=127\.0\.0\.1:5140,tag=vtp_edge,nohostname vtp_edge;/,
    );
    assert.ok(conf.includes(`access_log ${join(dir, 'run', 'access.log')} vtp_edge;`));
    const format = /log_format vtp_edge '([^']+)';/.exec(conf)?.[1] ?? '';
    // What nginx writes for a segment hit, variables filled in.
    const line = format
      .replace('$status', '200')
      .replace('$upstream_cache_status', 'HIT')
      .replace('$body_bytes_sent', '1234')
      .replace('$request_method', 'GET')
      .replace('$vtp_path', '/live/lecture/Low/abc-1.ts')
      .replace('$arg_session', 'S1');
    assert.deepEqual(parseEdgeLine(line), {
      edge: 'edge-a',
      status: 200,
      outcome: 'hit',
      cacheStatus: 'HIT',
      bytes: 1234,
      method: 'GET',
      path: '/live/lecture/Low/abc-1.ts',
      kind: 'segment',
      session: 'S1',
    });
    assert.match(nginxEdgeConfig(options), /log_format vtp_edge 'vtp1 \$hostname:8081 /);
    assert.match(
      nginxEdgeConfig({ ...options, reportTo: undefined, accessLog: undefined }),
      /^\s*access_log off;$/m,
    );
  });

  it('checks an https origin against the system CAs, or the CA file it is given', () => {
    const https = { ...options, origin: 'https://origin.example' };
    const trusted = (conf: string) =>
      directives(conf).filter((line) => line.startsWith('proxy_ssl_trusted_certificate '));
    assert.deepEqual(trusted(nginxEdgeConfig(https)), [
      'proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;',
    ]);
    assert.deepEqual(
      trusted(nginxEdgeConfig({ ...https, originCaFile: '/etc/pki/tls/cert.pem' })),
      ['proxy_ssl_trusted_certificate /etc/pki/tls/cert.pem;'],
    );
    assert.ok(directives(nginxEdgeConfig(https)).includes('proxy_ssl_verify on;'));
    assert.deepEqual(trusted(nginxEdgeConfig(options)), [], 'none for an http origin');
  });

  it('keeps pid, temp files and error log in the run directory, none in the cache directory', () => {
    const conf = nginxEdgeConfig(options);
    const run = join(dir, 'run');
    for (const directive of ['pid', 'error_log', 'client_body_temp_path', 'proxy_temp_path']) {
      assert.match(conf, new RegExp(`^\\s*${directive} ${run}/`, 'm'), directive);
    }
    assert.throws(
      () => nginxEdgeConfig({ ...options, runDir: join(dir, 'cache', 'run') }),
      (error: unknown) => error instanceof EdgeConfigError && error.field === 'runDir',
    );
  });

  it('refuses settings that would not be an origin, a safe path or a count, naming the option', () => {
    const cases: [Partial<EdgeConfigOptions>, keyof EdgeConfigOptions][] = [
      [{ origin: 'ftp://origin' }, 'origin'],
      [{ origin: 'http://origin/live' }, 'origin'],
      [{ origin: 'http://user:pw@origin' }, 'origin'],
      [{ cacheDir: 'relative/cache' }, 'cacheDir'],
      [{ cacheDir: '/tmp/a cache' }, 'cacheDir'],
      [{ cacheDir: '/tmp/x;evil' }, 'cacheDir'],
      [{ accessLog: '/tmp/$host.log' }, 'accessLog'],
      [{ originCaFile: 'ca.pem' }, 'originCaFile'],
      [{ originCaFile: '/etc/ssl/ca;evil.pem' }, 'originCaFile'],
      [{ workerConnections: 10 }, 'workerConnections'],
      [{ cacheSizeMiB: 1.5 }, 'cacheSizeMiB'],
      [{ edgeName: "edge'a" }, 'edgeName'],
      [{ user: 'root;' }, 'user'],
      [{ listen: { host: '127.0.0.1', port: 0 } }, 'listen'],
    ];
    for (const [change, field] of cases) {
      assert.throws(
        () => nginxEdgeConfig({ ...options, ...change }),
        (error: unknown) => error instanceof EdgeConfigError && error.field === field,
        JSON.stringify(change),
      );
    }
  });
});

describe('vtp-live edge-config', () => {
  it('prints the configuration for the three fixed flags', async () => {
    const result = await run('node', [
      '--import',
      'tsx',
      CLI,
      'edge-config',
      '--origin',
      'http://10.0.0.5:8080',
      '--listen',
      '0.0.0.0:80',
      '--cache-dir',
      '/var/cache/vtp-edge',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /proxy_cache_path \/var\/cache\/vtp-edge levels=1:2 /);
    assert.match(result.stdout, /^\s*listen 0\.0\.0\.0:80;$/m);
    assert.match(result.stdout, /^\s*server 10\.0\.0\.5:8080;$/m);
  });

  it('exits 2 naming the flag on missing input or an unknown flag', async () => {
    const base = ['--origin', 'http://127.0.0.1:8080', '--listen', '0.0.0.0:80'];
    const cases: [string[], RegExp][] = [
      [base, /--cache-dir is required/],
      [[...base, '--cache-dir', '/c', '--frobnicate'], /unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const result = await run('node', ['--import', 'tsx', CLI, 'edge-config', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
  });

  it('names the flag of every bad value', () => {
    const base = { origin: 'http://127.0.0.1:8080', listen: '0.0.0.0:80', cacheDir: 'cache' };
    const cases: [EdgeConfigFlags, RegExp][] = [
      [{ ...base, listen: 'localhost:80' }, /^--listen: 'localhost:80'/],
      [{ ...base, origin: 'origin:8080' }, /^--origin: 'origin:8080'/],
      [{ ...base, cacheDir: 'a cache' }, /^--cache-dir: /],
      [{ ...base, cacheSize: 'big' }, /^--cache-size must be a whole number/],
      [{ ...base, workers: 'many' }, /^--workers must be a whole number or auto/],
      [{ ...base, workerConnections: '8' }, /^--worker-connections: must be/],
      [{ ...base, reportTo: '1.2.3.4' }, /^--report-to: /],
      [{ ...base, edgeName: 'a b' }, /^--edge-name: /],
      [{ ...base, accessLog: '/tmp/$x' }, /^--access-log: /],
      [{ ...base, originCaFile: '/etc/a ca.pem' }, /^--origin-ca-file: /],
    ];
    for (const [flags, message] of cases) {
      assert.throws(
        () => edgeConfigFromFlags(flags, '/srv'),
        (error: unknown) => error instanceof EdgeFlagError && message.test(error.message),
        JSON.stringify(flags),
      );
    }
    // Relative paths are the working directory's.
    assert.match(edgeConfigFromFlags(base, '/srv'), /proxy_cache_path \/srv\/cache /);
    const https = { ...base, origin: 'https://origin.example', originCaFile: 'tls/ca.pem' };
    assert.match(
      edgeConfigFromFlags(https, '/srv'),
      /^\s*proxy_ssl_trusted_certificate \/srv\/tls\/ca\.pem;$/m,
    );
  });

  it('describes itself in --help', async () => {
    const result = await run('node', ['--import', 'tsx', CLI, 'edge-config', '--help']);
    assert.equal(result.code, 0);
    for (const flag of [
      '--origin',
      '--listen',
      '--cache-dir',
      '--report-to',
      '--run-dir',
      '--origin-ca-file',
    ]) {
      assert.ok(result.stdout.includes(flag), flag);
    }
  });
});

describe('an edge run from the generated configuration', { timeout: 30_000 }, () => {
  let appeared = false;
  const origin = createServer((req, res) => {
    // A segment not there yet is a 404 for one second, as the origin answers it.
    if (req.url?.startsWith('/live/lecture/Low/abc-1.ts') && appeared) {
      res.writeHead(200, { 'cache-control': 'public, max-age=86400, immutable' });
      res.end('segment bytes');
      return;
    }
    res.writeHead(404, { 'cache-control': 'public, max-age=1' });
    res.end('{"error":{"code":"SEGMENT_NOT_FOUND"}}');
  });
  let edge: Awaited<ReturnType<typeof startNginx>>;

  before(async () => {
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    const { port } = origin.address() as AddressInfo;
    edge = await startNginx((dir, listen) =>
      nginxEdgeConfig({
        origin: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port: listen },
        cacheDir: join(dir, 'cache'),
        runDir: dir,
        workerProcesses: 1,
        ...(process.getuid?.() === 0 && { user: 'root' }),
      }),
    );
  });
  after(async () => {
    await edge?.stop();
    origin.closeAllConnections();
    origin.close();
  });

  it('serves a segment from the first request after its one-second 404 expires, never the stale 404', async () => {
    const get = async () => {
      const response = await fetch(`${edge.url}/live/lecture/Low/abc-1.ts?session=S1`);
      await response.arrayBuffer();
      return `${response.status} ${response.headers.get('x-cache-status')}`;
    };
    assert.equal(await get(), '404 MISS');
    appeared = true;
    const seen: string[] = [];
    await waitFor(
      async () => {
        const answer = await get();
        seen.push(answer);
        return answer.startsWith('200') ? answer : undefined;
      },
      10_000,
      'the segment through the edge',
      50,
    );
    // Within its second the cached 404 stands; after it, the origin is asked at once.
    const notFound = seen.filter((answer) => answer.startsWith('404'));
    assert.deepEqual(
      notFound.filter((answer) => answer !== '404 HIT'),
      [],
      `no stale 404: ${seen.join(', ')}`,
    );
    assert.match(seen.at(-1) ?? '', /^200 (EXPIRED|MISS)$/);
    assert.equal(await get(), '200 HIT');
  });
});
