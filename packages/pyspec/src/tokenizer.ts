import { invariantError } from '@pypi-graph/core';
import { SPECIFIER_PATTERN } from './pep440';

// A port of packaging 26's `_tokenizer.py`: context-sensitive tokens, each a regex tried at the
// current position. Python's `\b` is Unicode-aware (a word character is a letter, a digit or `_`),
// so it is spelled out with look-arounds; JavaScript's `\b` only knows ASCII.
const WORD = '[\\p{L}\\p{N}_]';
const B_START = `(?<!${WORD})`;
const B_END = `(?!${WORD})`;
const B_ANY = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;

const RULES = {
  LEFT_PARENTHESIS: /\(/y,
  RIGHT_PARENTHESIS: /\)/y,
  LEFT_BRACKET: /\[/y,
  RIGHT_BRACKET: /\]/y,
  SEMICOLON: /;/y,
  COMMA: /,/y,
  QUOTED_STRING: /'[^']*'|"[^"]*"/y,
  OP: /===|==|~=|!=|<=|>=|<|>/y,
  BOOLOP: new RegExp(`${B_START}(?:or|and)${B_END}`, 'yu'),
  IN: new RegExp(`${B_START}in${B_END}`, 'yu'),
  NOT: new RegExp(`${B_START}not${B_END}`, 'yu'),
  VARIABLE: new RegExp(
    `${B_START}(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)` +
      '|platform[._](?:version|machine|python_implementation)|python_implementation|implementation_(?:name|version)' +
      `|extras?|dependency_groups)${B_END}`,
    'yu',
  ),
  SPECIFIER: new RegExp(SPECIFIER_PATTERN, 'iy'),
  AT: /@/y,
  URL: /[^ \t]+/y,
  IDENTIFIER: new RegExp(`${B_START}[a-zA-Z0-9][a-zA-Z0-9._-]*${B_ANY}`, 'yu'),
  VERSION_PREFIX_TRAIL: /\.\*/y,
  VERSION_LOCAL_LABEL_TRAIL: /\+[a-z0-9]+(?:[-_.][a-z0-9]+)*/y,
  WS: /[ \t]+/y,
  END: null, // Python's `$`: the end, or just before a final "\n"
} as const;

export type TokenName = keyof typeof RULES;

export interface Token {
  name: TokenName;
  text: string;
  position: number;
}

/** A syntax error at a position of the source (packaging's ParserSyntaxError). */
export class ParserSyntaxError extends Error {
  constructor(
    message: string,
    readonly source: string,
    readonly span: [number, number],
  ) {
    super(`${message} at position ${span[0]}`);
  }
}

export class Tokenizer {
  position = 0;
  private nextToken: Token | null = null;

  constructor(readonly source: string) {}

  private match(name: TokenName): string | null {
    const rule = RULES[name];
    if (rule === null) {
      const rest = this.source.length - this.position;
      return rest === 0 || (rest === 1 && this.source[this.position] === '\n') ? '' : null;
    }
    rule.lastIndex = this.position;
    const m = rule.exec(this.source);
    return m ? m[0] : null;
  }

  /** Moves past the token if it is next. */
  consume(name: TokenName): void {
    if (this.check(name)) this.read();
  }

  /** Whether the next token is `name`; unless `peek`, the token must then be read. */
  check(name: TokenName, peek = false): boolean {
    if (this.nextToken) throw invariantError(`cannot check for ${name}, already have ${this.nextToken.name}`);
    const text = this.match(name);
    if (text === null) return false;
    if (!peek) this.nextToken = { name, text, position: this.position };
    return true;
  }

  expect(name: TokenName, expected: string): Token {
    if (!this.check(name)) this.raise(`Expected ${expected}`);
    return this.read();
  }

  read(): Token {
    const token = this.nextToken;
    if (!token) throw invariantError('no token to read');
    this.position += token.text.length;
    this.nextToken = null;
    return token;
  }

  raise(message: string, spanStart = this.position, spanEnd = this.position): never {
    throw new ParserSyntaxError(message, this.source, [spanStart, spanEnd]);
  }

  /** `with tokenizer.enclosing_tokens(open, close)`: optional open token, then body, then its close. */
  enclosing<T>(open: TokenName, close: TokenName, around: string, body: () => T): T {
    let openPosition: number | null = null;
    if (this.check(open)) {
      openPosition = this.position;
      this.read();
    }
    const result = body();
    if (openPosition === null) return result;
    if (!this.check(close))
      this.raise(`Expected matching ${close} for ${open}, after ${around}`, openPosition);
    this.read();
    return result;
  }
}
