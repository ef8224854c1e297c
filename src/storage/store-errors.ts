/**
 * Why a state database could not be opened. Each names the file, because an operator reading the
 * start-up log must know which file to look at; none is a client's error (no HTTP status).
 */
export class StoreError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The file is damaged (truncated, overwritten, not a database): openStoreOrRecover moves it aside. */
export class StoreCorruptError extends StoreError {
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(file, `state database ${file} is corrupt or truncated: ${detail}`, options);
  }
}

/** Written by a newer build: never moved aside, since going back to that build must find it. */
export class StoreVersionError extends StoreError {
  constructor(
    file: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      file,
      `state database ${file} has schema version ${found}, newer than this build's ${supported}: upgrade VTP Live or start with another --data-dir`,
    );
  }
}

/** Another process (a second server on the same --data-dir) holds the database. */
export class StoreLockedError extends StoreError {
  constructor(file: string, options?: ErrorOptions) {
    super(
      file,
      `state database ${file} is in use by another process: each server needs its own --data-dir`,
      options,
    );
  }
}
