#!/usr/bin/env node
import { Command, Option } from 'commander';
import { runsCluster, serveCluster } from './cluster/serve-cluster.js';
import { ConfigError, loadConfig, MIN_SECRET_LENGTH, SETTINGS } from './config.js';
import { runDemo } from './demo/demo.js';
import {
  EDGE_CONFIG_FLAGS,
  type EdgeConfigFlags,
  EdgeFlagError,
  edgeConfigFromFlags,
} from './edge/edge-config-flags.js';
import { logProcessOutput } from './process-log.js';
import { SERVER_DEFAULTS, startServer } from './server.js';
import { PLAYBACK_TOKEN_DEFAULTS, PlaybackTokens } from './service/playback-tokens.js';

/** `vtp-live serve`: runs the server until SIGTERM/SIGINT, then drains and exits 0. */
async function serve(flags: Record<string, string | undefined>): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(flags, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`vtp-live: ${error.message}`);
    process.exit(2);
  }
  // --processes N > 1: a primary and N HLS workers (src/cluster/), signals handled there.
  if (runsCluster(config)) return serveCluster(config);
  const server = await startServer(config);
  logProcessOutput(server.app.log);
  process.on('exit', () => server.killChildren());
  server.app.log.info({ url: server.url }, `VTP Live listening on ${server.url}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: draining deliveries');
    const drained = await server.close();
    server.app.log.info(
      { drained },
      drained ? 'drained, bye' : 'deadline passed, abandoned the rest',
    );
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

const program = new Command('vtp-live').description('VTP Live: live HLS distribution server');
const serveCommand = program.command('serve').description('run the distribution server');
const options = SETTINGS.map((setting) => {
  const shown = setting.defaultText ?? setting.fallback;
  const fallback = shown === undefined ? '' : ` (default: ${shown})`;
  const option = new Option(
    `--${setting.flag} <value>`,
    `${setting.description}; env ${setting.env}${fallback}`,
  );
  serveCommand.addOption(option);
  return { flag: setting.flag, attribute: option.attributeName() };
});
serveCommand.action((parsed: Record<string, string | undefined>) =>
  serve(Object.fromEntries(options.map(({ flag, attribute }) => [flag, parsed[attribute]]))),
);

program
  .command('token')
  .description('print a signed playback token for a stream (needs the playback secret)')
  .requiredOption('--stream <id>', 'recording id the token is for')
  .option('--viewer <id>', 'viewer id the token is limited to')
  .option('--ttl <seconds>', 'lifetime in seconds')
  .option(
    '--playback-secret <secret>',
    'the secret; env VTP_PLAYBACK_SECRET (preferred: argv is readable)',
  )
  .action(
    async (flags: { stream: string; viewer?: string; ttl?: string; playbackSecret?: string }) => {
      const secret = flags.playbackSecret ?? process.env.VTP_PLAYBACK_SECRET;
      if (!secret || secret.length < MIN_SECRET_LENGTH) {
        console.error(
          `vtp-live token: set VTP_PLAYBACK_SECRET (or --playback-secret) to the server's secret of at least ${MIN_SECRET_LENGTH} characters`,
        );
        process.exit(2);
      }
      const ttl = flags.ttl === undefined ? PLAYBACK_TOKEN_DEFAULTS.ttlSeconds : Number(flags.ttl);
      if (!Number.isSafeInteger(ttl) || ttl < 1) {
        console.error(
          `vtp-live token: --ttl must be a whole number of seconds, got '${flags.ttl}'`,
        );
        process.exit(2);
      }
      console.log(await new PlaybackTokens(secret).issue(flags.stream, flags.viewer, ttl));
    },
  );

const edgeConfigCommand = program
  .command('edge-config')
  .description(
    'print an nginx.conf for a caching edge in front of the origin (README "Edge tier"); run it with nginx -c FILE',
  )
  // Any bad input, commander's own (an unknown or valueless flag) included, exits 2.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
for (const row of EDGE_CONFIG_FLAGS) {
  edgeConfigCommand.option(`--${row.flag} <${row.value}>`, row.description);
}
edgeConfigCommand.action((flags: EdgeConfigFlags) => {
  try {
    process.stdout.write(edgeConfigFromFlags(flags, process.cwd()));
  } catch (error) {
    if (!(error instanceof EdgeFlagError)) throw error;
    console.error(`vtp-live edge-config: ${error.message}`);
    process.exit(2);
  }
});

program
  .command('demo')
  .description(
    'run a live lecture on embedded defaults: server, test-pattern encoder, a few viewers',
  )
  .addOption(new Option('--port <value>', 'TCP port').default(String(SERVER_DEFAULTS.port)))
  .addOption(new Option('--host <value>', 'address to bind').default(SERVER_DEFAULTS.host))
  .addOption(new Option('--stream <id>', 'recording id of the demo stream').default('lecture'))
  .addOption(
    new Option('--preset <name>', 'encoder ladder preset')
      .choices(['light', 'full'])
      .default('light'),
  )
  .addOption(new Option('--viewers <n>', 'headless viewers to simulate').default('4'))
  .action(
    async (flags: {
      port: string;
      host: string;
      stream: string;
      preset: 'light' | 'full';
      viewers: string;
    }) => {
      let demo: Awaited<ReturnType<typeof runDemo>>;
      try {
        demo = await runDemo({
          stream: flags.stream,
          preset: flags.preset,
          viewers: Number.parseInt(flags.viewers, 10) || 0,
          serverFlags: { port: flags.port, host: flags.host },
        });
      } catch (error) {
        console.error(`vtp-live demo: ${error instanceof Error ? error.message : error}`);
        process.exit(error instanceof ConfigError ? 2 : 1);
      }
      const url = demo.server.url;
      const id = encodeURIComponent(flags.stream);
      console.log(`VTP Live demo is running (${flags.preset} ladder from a test pattern).
  Player:    ${url}/watch/${id}
  Dashboard: ${url}/dashboard
  HLS:       ${url}/live/${id}/master.m3u8
Press Ctrl-C to stop.`);
      process.on('exit', () => demo.server.killChildren());
      const stop = async () => {
        console.log('Stopping: encoder, viewers, server.');
        await demo.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    },
  );

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error('vtp-live:', error instanceof Error ? error.message : error);
  process.exit(1);
});
