/** bench:publish settings from its flags (pure: argv in, settings or a message naming the flag out). */
import { parseArgs } from 'node:util';

export interface PublishBenchOptions {
  /** Length of the steady window CPU is sampled over, once every stream is playable. */
  readonly seconds: number;
  /** Simultaneous publishers of each round, in order. */
  readonly publishers: readonly number[];
  /** How long a round waits for its streams to become playable before measuring anyway. */
  readonly playableTimeoutSeconds: number;
}

export const PUBLISH_BENCH_DEFAULTS: PublishBenchOptions = {
  seconds: 20,
  publishers: [1, 4],
  playableTimeoutSeconds: 60,
};

/** At most this many publishers a round: each brings a ladder, and the machine has few cores. */
const MAX_PUBLISHERS = 16;

export const PUBLISH_BENCH_USAGE = `npm run bench:publish -- [--seconds N] [--publishers 1,4] [--playable-timeout N]
  --seconds N           steady window CPU is sampled over, once all are playable (default ${PUBLISH_BENCH_DEFAULTS.seconds})
  --publishers LIST     simultaneous publishers per round, comma-separated (default ${PUBLISH_BENCH_DEFAULTS.publishers.join(',')})
  --playable-timeout N  seconds a round waits for its streams to become playable (default ${PUBLISH_BENCH_DEFAULTS.playableTimeoutSeconds})`;

/** Reads the flags; throws an Error naming the flag when a value is unusable. */
export function parsePublishBenchOptions(argv: readonly string[]): PublishBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      seconds: { type: 'string' },
      publishers: { type: 'string' },
      'playable-timeout': { type: 'string' },
    },
  });
  return {
    seconds: positive('--seconds', values.seconds, PUBLISH_BENCH_DEFAULTS.seconds, 600),
    publishers:
      values.publishers === undefined
        ? PUBLISH_BENCH_DEFAULTS.publishers
        : values.publishers
            .split(',')
            .map((part) => positive('--publishers', part.trim(), 0, MAX_PUBLISHERS)),
    playableTimeoutSeconds: positive(
      '--playable-timeout',
      values['playable-timeout'],
      PUBLISH_BENCH_DEFAULTS.playableTimeoutSeconds,
      600,
    ),
  };
}

function positive(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > max)
    throw new Error(`${flag}: expected a whole number from 1 to ${max}, got "${text}"`);
  return value;
}
