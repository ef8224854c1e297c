/** RFC 3339 in UTC at second precision, as the seed's examples ("2024-01-15T10:30:45Z"). */
export function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
