// A JSON document whose top level is an object, read as it arrives: each of its members is
// parsed alone, and one member that holds a long list (the JSON API's `releases`, a Simple
// page's `files`) is handed on element by element. A project of PyPI's largest size answers
// with tens of megabytes; read whole, the text and its parsed tree cost the process over a
// hundred megabytes of peak memory, read this way one element at a time.
//
// The structure the reader walks (the top-level object and the streamed container: braces,
// keys, colons, commas) is checked here byte by byte; every value it cuts out, however deep, is
// then checked and parsed by JSON.parse. So a document is accepted exactly when JSON.parse
// would accept it, but for one case: the streamed member twice in one object is refused
// (JSON.parse would keep the second).

/** The document is not JSON, or not an object at its top level. */
export class JsonStreamSyntaxError extends Error {
  override readonly name = 'JsonStreamSyntaxError';
}

export interface JsonStreamHandlers {
  /**
   * A member of the top-level object, parsed, if `keep` names it. The streamed member is given
   * here too: as `{}` or `[]` when it is an object or an array (its elements go to `element`),
   * else as its value (null, a number…) for the caller to refuse.
   */
  member(name: string, value: unknown): void;
  /** One element of the streamed member: its key (an object) or index (an array), and its value. */
  element(key: string | number, value: unknown): void;
}

enum State {
  Start,
  /** Just after `{` or `[`: a key (or a value, in an array) or the closer. */
  OpenFirst,
  /** After a comma in an object: a key. */
  Key,
  Colon,
  /** After a colon, or a comma in an array: a value. */
  Value,
  /** Cutting out a string (a key or a value), a container or a scalar. */
  Capture,
  /** After a value: a comma or the closer. */
  After,
  Done,
}

enum Cut {
  Key,
  String,
  Container,
  Scalar,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonObjectStream {
  readonly #streamed: string;
  readonly #keep: ReadonlySet<string>;
  readonly #handlers: JsonStreamHandlers;
  #state = State.Start;
  /** 1 in the top-level object, 2 in the streamed container. */
  #level = 1;
  /** Whether the streamed container is an array (else an object). */
  #array = false;
  #sawStreamed = false;
  /** The key of the value being read (level 1: a member's name; level 2: an element's key). */
  #key = '';
  #index = 0;
  // What is being cut out: its kind, the pieces of it from earlier chunks, and the scan's state.
  #cut = Cut.Scalar;
  #pieces: Buffer[] = [];
  #depth = 0;
  #inString = false;
  #escaped = false;
  #offset = 0;

  constructor(streamed: string, keep: Iterable<string>, handlers: JsonStreamHandlers) {
    this.#streamed = streamed;
    this.#keep = new Set(keep);
    this.#handlers = handlers;
  }

  write(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#state === State.Capture) {
        const end = this.#scan(chunk, i);
        if (end === -1) {
          this.#pieces.push(chunk.subarray(i));
          this.#offset += n - i;
          return;
        }
        this.#pieces.push(chunk.subarray(i, end));
        this.#offset += end - i;
        i = end;
        this.#captured();
        continue;
      }
      const c = chunk[i] as number;
      if (isSpace(c)) {
        i++;
        this.#offset++;
        continue;
      }
      // A value's first byte starts its capture and is read again by it.
      this.#structural(c);
      if (!this.#capturing()) {
        i++;
        this.#offset++;
      }
    }
  }

  /** The document has ended: anything unfinished is an error. */
  end(): void {
    if (this.#state !== State.Done) throw this.#error('the document ends too early');
  }

  #capturing(): boolean {
    return this.#state === State.Capture;
  }

  /** One structural byte (not blank) outside a value. A value's first byte starts its capture. */
  #structural(c: number): void {
    switch (this.#state) {
      case State.Start:
        if (c !== LBRACE) throw this.#error('the top level is not an object');
        this.#state = State.OpenFirst;
        return;
      case State.OpenFirst:
        if (c === (this.#level === 2 && this.#array ? RBRACKET : RBRACE)) {
          this.#close();
          return;
        }
        if (this.#level === 2 && this.#array) this.#startValue(c);
        else this.#startKey(c);
        return;
      case State.Key:
        this.#startKey(c);
        return;
      case State.Colon:
        if (c !== COLON) throw this.#error('expected ":"');
        this.#state = State.Value;
        return;
      case State.Value:
        this.#startValue(c);
        return;
      case State.After:
        if (c === COMMA) {
          this.#state = this.#level === 2 && this.#array ? State.Value : State.Key;
          return;
        }
        if (c === (this.#level === 2 && this.#array ? RBRACKET : RBRACE)) {
          this.#close();
          return;
        }
        throw this.#error('expected "," or the end of the object or array');
      case State.Done:
        throw this.#error('more after the end of the document');
    }
  }

  #startKey(c: number): void {
    if (c !== QUOTE) throw this.#error('expected a key');
    this.#begin(Cut.Key);
  }

  #startValue(c: number): void {
    if (this.#level === 1 && this.#key === this.#streamed && (c === LBRACE || c === LBRACKET)) {
      if (this.#sawStreamed) throw this.#error(`"${this.#streamed}" appears twice`);
      this.#sawStreamed = true;
      this.#array = c === LBRACKET;
      this.#handlers.member(this.#streamed, this.#array ? [] : {});
      this.#level = 2;
      this.#index = 0;
      this.#state = State.OpenFirst;
      return;
    }
    if (c === QUOTE) this.#begin(Cut.String);
    else if (c === LBRACE || c === LBRACKET) this.#begin(Cut.Container);
    else if (c === RBRACE || c === RBRACKET || c === COMMA || c === COLON)
      throw this.#error('expected a value');
    else this.#begin(Cut.Scalar);
  }

  #begin(cut: Cut): void {
    this.#cut = cut;
    this.#state = State.Capture;
    this.#pieces = [];
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
  }

  #close(): void {
    if (this.#level === 2) {
      this.#level = 1;
      this.#state = State.After;
    } else {
      this.#state = State.Done;
    }
  }

  /**
   * Scans the value being cut out from `from`: the index just past its end in `chunk` (a
   * scalar ends before the byte that ends it), or -1 when it goes on in the next chunk.
   */
  #scan(chunk: Buffer, from: number): number {
    const n = chunk.length;
    let i = from;
    if (this.#cut === Cut.Scalar) {
      for (; i < n; i++) {
        const c = chunk[i] as number;
        if (c === COMMA || c === RBRACE || c === RBRACKET || isSpace(c)) return i;
      }
      return -1;
    }
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    const isString = this.#cut !== Cut.Container;
    // A string's opening quote is its first byte (nothing of it cut out yet): it opens the string.
    if (isString && this.#pieces.length === 0 && !inString) {
      inString = true;
      i++;
    }
    for (; i < n; i++) {
      const c = chunk[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          if (isString) return i + 1;
        }
      } else if (c === QUOTE) inString = true;
      else if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    return -1;
  }

  /** The value being cut out is whole: parse it and hand it on. */
  #captured(): void {
    const pieces = this.#pieces;
    this.#pieces = [];
    const bytes = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw this.#error((err as Error).message);
    }
    if (this.#cut === Cut.Key) {
      this.#key = value as string;
      this.#state = State.Colon;
      return;
    }
    this.#state = State.After;
    if (this.#level === 2) {
      this.#handlers.element(this.#array ? this.#index++ : this.#key, value);
      return;
    }
    if (this.#key === this.#streamed) {
      if (this.#sawStreamed) throw this.#error(`"${this.#streamed}" appears twice`);
      this.#sawStreamed = true;
    }
    if (this.#key === this.#streamed || this.#keep.has(this.#key)) this.#handlers.member(this.#key, value);
  }

  #error(message: string): JsonStreamSyntaxError {
    return new JsonStreamSyntaxError(`${message} (at byte ${this.#offset})`);
  }
}
