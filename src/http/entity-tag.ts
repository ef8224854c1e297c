/**
 * Whether an If-None-Match header names `etag` (RFC 9110 13.1.2: `*`, or a list compared
 * weakly). Written here rather than taken from `fresh`, which answers "changed" to any request
 * carrying `Cache-Control: no-cache`, as fetch adds to every conditional request it sends:
 * an origin evaluates If-None-Match whatever the request asks of caches.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const tag of header.split(',')) {
    const trimmed = tag.trim();
    if ((trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === opaque) return true;
  }
  return false;
}
