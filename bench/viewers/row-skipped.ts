/** A row the bench cannot run on this checkout yet (a server flag or subcommand it lacks). */
export class RowSkipped extends Error {}
