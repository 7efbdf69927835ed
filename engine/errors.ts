// The toolkit's one error type for bad input: a file (image, label, yaml, checkpoint, model) that
// cannot be read as what it claims to be. The message always starts with the file, then says what
// was found and what was expected, so a user can fix the file without reading a stack trace.
//
//   try { readImage(p) } catch (e) { if (e instanceof InputError) skip(e.file, e.message) }
//
// Readers throw plain `Error('<file>: ...')` inside and call `asInputError` at their boundary:
// those become InputErrors; a TypeError/RangeError is a bug in the reader and passes through
// unchanged (the fuzz tests in test/io/fuzz.test.ts look for exactly those). Imports: nothing.

export class InputError extends Error {
  /** the file (or '<buffer>' name) the bad input came from */
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(detail.startsWith(file) ? detail : `${file}: ${detail}`, options);
    this.name = 'InputError';
    this.file = file;
  }
}

/**
 * At a reader's boundary: an InputError stays as it is, a plain Error (the readers' own checks)
 * becomes an InputError naming `file`; anything else (TypeError, RangeError, ...) is returned
 * unchanged, because it is a bug to fix rather than a message for the user.
 */
export function asInputError(e: unknown, file: string): unknown {
  if (e instanceof InputError) return e;
  if (e instanceof Error && e.constructor === Error) return new InputError(file, e.message, { cause: e });
  return e;
}

/** Runs `read` and converts its errors with asInputError. */
export function readingFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw asInputError(e, file);
  }
}
