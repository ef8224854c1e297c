/** Polls `check` every `intervalMs` until it returns a value, or fails after `ms`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  ms: number,
  what: string,
  intervalMs = 200,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
