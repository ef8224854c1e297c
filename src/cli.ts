#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, SETTINGS } from './config.js';
import { startServer } from './server.js';

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
  const server = await startServer(config);
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

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error('vtp-live:', error instanceof Error ? error.message : error);
  process.exit(1);
});
