/** Where CDN cache hits and misses are counted (an edge tier's logs, or a push CDN's model). */
export interface CacheCounts {
  counts(): { hits: number; misses: number };
}
