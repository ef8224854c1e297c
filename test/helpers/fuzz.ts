import fc from 'fast-check';

/** Seed of every fuzz property: fixed so a run repeats exactly; FUZZ_SEED overrides it. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_260_611);

export interface FuzzRun {
  /** Runs executed (fewer than asked when the time limit interrupted the property). */
  readonly runs: number;
  readonly seed: number;
  readonly interrupted: boolean;
}

/**
 * fc.assert with the fixed seed, a bounded number of runs and a time limit. A failure throws
 * fast-check's report (counterexample, seed and path) headed by how to replay it.
 */
export async function checkProperty<Ts>(
  property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>,
  numRuns: number,
  timeLimitMs = 10_000,
): Promise<FuzzRun> {
  let outcome: FuzzRun = { runs: 0, seed: FUZZ_SEED, interrupted: false };
  const reporter = (details: fc.RunDetails<Ts>) => {
    outcome = { runs: details.numRuns, seed: details.seed, interrupted: details.interrupted };
    if (!details.failed) return;
    const cause = details.errorInstance;
    throw new Error(
      `fuzz property failed; replay with FUZZ_SEED=${details.seed}\n` +
        `${fc.defaultReportMessage(details) ?? 'no report'}\n` +
        `Error: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`,
      { cause },
    );
  };
  const params: fc.Parameters<Ts> = {
    seed: FUZZ_SEED,
    numRuns,
    plugins: [fc.interruptAfterTimeLimit(timeLimitMs) as fc.Plugin<Ts>],
  };
  if (property.isAsync()) {
    await fc.assert(property as fc.IAsyncProperty<Ts>, {
      ...params,
      asyncReporter: async (details) => reporter(details),
    });
  } else {
    fc.assert(property as fc.IProperty<Ts>, { ...params, reporter });
  }
  return outcome;
}

/** A one-line account of a property run for the test log. */
export function describeRun(run: FuzzRun): string {
  return `${run.runs} runs, seed ${run.seed}${run.interrupted ? ' (time limit reached)' : ''}`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Why a non-2xx answer is not the JSON error body every failure shares
 * (`{error: {code, message, field?}, message, timestamp}`), or undefined when it is.
 */
export function errorEnvelopeProblem(
  contentType: string | string[] | undefined,
  text: string,
): string | undefined {
  const type = Array.isArray(contentType) ? contentType.join(',') : (contentType ?? '');
  if (!/^application\/json\b/i.test(type)) return `content-type is '${type}', not JSON`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return `body is not an object: ${text.slice(0, 200)}`;
  const { error, message, timestamp } = body as Record<string, unknown>;
  if (typeof error !== 'object' || error === null) return `no error object: ${text.slice(0, 200)}`;
  const { code, message: errorMessage, field } = error as Record<string, unknown>;
  if (typeof code !== 'string' || code === '') return `error.code missing: ${text.slice(0, 200)}`;
  if (typeof errorMessage !== 'string' || errorMessage === '')
    return `error.message missing: ${text.slice(0, 200)}`;
  if (field !== undefined && typeof field !== 'string')
    return `error.field is not a string: ${text.slice(0, 200)}`;
  if (typeof message !== 'string') return `message missing: ${text.slice(0, 200)}`;
  if (typeof timestamp !== 'string' || !RFC3339.test(timestamp))
    return `timestamp is not RFC 3339: ${text.slice(0, 200)}`;
  return undefined;
}

/** Shortens a value for an assertion message. */
export function preview(value: unknown, max = 300): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  text ??= String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
