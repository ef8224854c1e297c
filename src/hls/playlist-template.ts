/**
 * A playlist split after each segment URI, so one cached text serves every viewer with its
 * own query (`?session=...`) appended to the segment URIs, at the cost of one join per request.
 */
export class PlaylistTemplate {
  private readonly chunks: string[];

  constructor(readonly text: string) {
    this.chunks = [];
    let cut = 0;
    let start = 0;
    for (const line of text.split('\n')) {
      const end = start + line.length;
      if (line !== '' && !line.startsWith('#')) {
        this.chunks.push(text.slice(cut, end));
        cut = end;
      }
      start = end + 1;
    }
    this.chunks.push(text.slice(cut));
  }

  /** The playlist with `query` (e.g. `?session=vs-1`) after every segment URI. */
  render(query: string): string {
    return query === '' ? this.text : this.chunks.join(query);
  }
}
