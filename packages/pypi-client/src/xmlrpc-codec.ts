// XML-RPC, the subset PyPI speaks: http://xmlrpc.com/spec.md plus Python's extensions
// (`nil`, `i8`, `ex:`-prefixed types; https://docs.python.org/3/library/xmlrpc.client.html).
// A small hand-written parser rather than a generic XML library: `list_packages_with_serial`
// answers with tens of megabytes, which this reads without building a DOM, and it refuses
// DOCTYPEs (no entity expansion) and anything outside the XML-RPC grammar.

export type XmlRpcValue = string | number | boolean | null | Buffer | XmlRpcValue[] | XmlRpcStruct;
/** A struct; a Map because member names come from the network (and Maps grow fast). */
export type XmlRpcStruct = Map<string, XmlRpcValue>;

export type XmlRpcResponse =
  | { kind: 'value'; value: XmlRpcValue }
  | { kind: 'fault'; faultCode: number; faultString: string };

/** Raised for text that is not a well-formed XML-RPC response. */
export class XmlRpcSyntaxError extends Error {
  override readonly name = 'XmlRpcSyntaxError';
}

const MAX_DEPTH = 64;

export function serializeMethodCall(method: string, params: readonly XmlRpcValue[]): string {
  const body = params.map((p) => `<param><value>${serializeValue(p)}</value></param>`).join('');
  return `<?xml version="1.0"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${body}</params></methodCall>\n`;
}

function serializeValue(v: XmlRpcValue): string {
  if (v === null) return '<nil/>';
  if (typeof v === 'boolean') return `<boolean>${v ? 1 : 0}</boolean>`;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`XML-RPC cannot carry ${v}`);
    if (!Number.isInteger(v)) return `<double>${v}</double>`;
    return Math.abs(v) <= 2 ** 31 - 1 ? `<int>${v}</int>` : `<i8>${v}</i8>`;
  }
  if (typeof v === 'string') return `<string>${escapeXml(v)}</string>`;
  if (Buffer.isBuffer(v)) return `<base64>${v.toString('base64')}</base64>`;
  if (Array.isArray(v))
    return `<array><data>${v.map((x) => `<value>${serializeValue(x)}</value>`).join('')}</data></array>`;
  const members = [...v]
    .map(([k, x]) => `<member><name>${escapeXml(k)}</name><value>${serializeValue(x)}</value></member>`)
    .join('');
  return `<struct>${members}</struct>`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

type Token =
  | { t: 'open'; name: string; selfClosing: boolean }
  | { t: 'close'; name: string }
  | { t: 'text'; text: string }
  | { t: 'eof' };

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

class Lexer {
  readonly #src: string;
  #pos = 0;
  #peeked: Token | undefined;

  constructor(src: string) {
    this.#src = src;
  }

  next(): Token {
    const t = this.peek();
    this.#peeked = undefined;
    return t;
  }

  peek(): Token {
    this.#peeked ??= this.#scan();
    return this.#peeked;
  }

  #scan(): Token {
    const src = this.#src;
    let text: string | undefined;
    while (this.#pos < src.length) {
      const pos = this.#pos;
      if (src.charCodeAt(pos) !== 60 /* < */) {
        const end = src.indexOf('<', pos);
        const stop = end === -1 ? src.length : end;
        text = (text ?? '') + decodeEntities(src.slice(pos, stop));
        this.#pos = stop;
        continue;
      }
      if (src.startsWith('<!--', pos)) {
        this.#pos = this.#after('-->', pos + 4);
        continue;
      }
      if (src.startsWith('<![CDATA[', pos)) {
        const end = this.#after(']]>', pos + 9);
        text = (text ?? '') + src.slice(pos + 9, end - 3);
        this.#pos = end;
        continue;
      }
      if (text !== undefined) return { t: 'text', text };
      if (src.startsWith('<?', pos)) {
        this.#pos = this.#after('?>', pos + 2);
        continue;
      }
      if (src.startsWith('<!', pos))
        throw new XmlRpcSyntaxError('DOCTYPE and other declarations are not allowed');
      const gt = src.indexOf('>', pos);
      if (gt === -1) throw new XmlRpcSyntaxError(`unterminated tag at offset ${pos}`);
      this.#pos = gt + 1;
      const isClose = src.charCodeAt(pos + 1) === 47; /* / */
      const selfClosing = !isClose && src.charCodeAt(gt - 1) === 47;
      const from = pos + (isClose ? 2 : 1);
      let i = from;
      while (i < gt && isNameChar(src.charCodeAt(i), i === from)) i++;
      const stop = selfClosing ? gt - 1 : gt;
      // Attributes (none in XML-RPC) are ignored, but the name must end at a blank or the tag's end.
      if (
        i === from ||
        (i < stop && !isBlank(src.charCodeAt(i))) ||
        (isClose && src.slice(i, gt).trim() !== '')
      ) {
        throw new XmlRpcSyntaxError(`malformed tag at offset ${pos}`);
      }
      const name = src.slice(from, i);
      if (isClose) return { t: 'close', name };
      return { t: 'open', name, selfClosing };
    }
    return text !== undefined ? { t: 'text', text } : { t: 'eof' };
  }

  #after(marker: string, from: number): number {
    const end = this.#src.indexOf(marker, from);
    if (end === -1) throw new XmlRpcSyntaxError(`unterminated ${marker} construct`);
    return end + marker.length;
  }
}

/** XML name characters, ASCII only (all XML-RPC element names are). */
function isNameChar(c: number, first: boolean): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) return true; // a-z A-Z _
  if (first) return false;
  return (c >= 48 && c <= 57) || c === 46 || c === 58 || c === 45; // 0-9 . : -
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^&;\s]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(';')) throw new XmlRpcSyntaxError(`bare & in text`);
    const named = NAMED_ENTITIES[body];
    if (named !== undefined) return named;
    const num = /^#x([0-9a-fA-F]+)$/.exec(body)?.[1] ?? /^#(\d+)$/.exec(body)?.[1];
    if (num !== undefined) {
      const cp = Number.parseInt(num, body.startsWith('#x') ? 16 : 10);
      if (cp > 0 && cp <= 0x10ffff) return String.fromCodePoint(cp);
    }
    throw new XmlRpcSyntaxError(`unknown entity &${body};`);
  });
}

function describe(t: Token): string {
  switch (t.t) {
    case 'open':
      return `<${t.name}>`;
    case 'close':
      return `</${t.name}>`;
    case 'text':
      return `text ${JSON.stringify(t.text.slice(0, 40))}`;
    default:
      return 'end of document';
  }
}

/** Skips whitespace between elements; any other text there is an error. */
function skipWs(lx: Lexer): void {
  const t = lx.peek();
  if (t.t !== 'text') return;
  if (t.text.trim() !== '') throw new XmlRpcSyntaxError(`unexpected ${describe(t)}`);
  lx.next();
}

function expectOpen(lx: Lexer, name: string): { selfClosing: boolean } {
  skipWs(lx);
  const t = lx.next();
  if (t.t !== 'open' || t.name !== name)
    throw new XmlRpcSyntaxError(`expected <${name}>, got ${describe(t)}`);
  return t;
}

function expectClose(lx: Lexer, name: string): void {
  skipWs(lx);
  const t = lx.next();
  if (t.t !== 'close' || t.name !== name)
    throw new XmlRpcSyntaxError(`expected </${name}>, got ${describe(t)}`);
}

/** Text content up to `</name>` (empty when the element is empty). */
function readText(lx: Lexer, name: string): string {
  let t = lx.next();
  let text = '';
  if (t.t === 'text') {
    text = t.text;
    t = lx.next();
  }
  if (t.t !== 'close' || t.name !== name)
    throw new XmlRpcSyntaxError(`expected </${name}>, got ${describe(t)}`);
  return text;
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
}

function parseValue(lx: Lexer, depth: number): XmlRpcValue {
  if (depth > MAX_DEPTH) throw new XmlRpcSyntaxError('values nested too deeply');
  if (expectOpen(lx, 'value').selfClosing) return '';
  let t = lx.next();
  let text = '';
  if (t.t === 'text') {
    text = t.text;
    t = lx.next();
  }
  // <value>text</value> without a type element is a string.
  if (t.t === 'close' && t.name === 'value') return text;
  if (t.t !== 'open' || text.trim() !== '')
    throw new XmlRpcSyntaxError(`unexpected ${describe(t)} in <value>`);
  const value = parseTyped(lx, t.name, t.selfClosing, depth);
  expectClose(lx, 'value');
  return value;
}

function parseTyped(lx: Lexer, name: string, selfClosing: boolean, depth: number): XmlRpcValue {
  const type = localName(name);
  if (selfClosing) {
    if (type === 'nil') return null;
    if (type === 'string') return '';
    if (type === 'struct') return new Map();
    throw new XmlRpcSyntaxError(`empty <${name}/>`);
  }
  switch (type) {
    case 'int':
    case 'i1':
    case 'i2':
    case 'i4':
    case 'i8':
    case 'biginteger': {
      const s = readText(lx, name).trim();
      const n = Number(s);
      if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(n)) throw new XmlRpcSyntaxError(`bad integer ${s}`);
      return n;
    }
    case 'boolean': {
      const s = readText(lx, name).trim();
      if (s !== '0' && s !== '1') throw new XmlRpcSyntaxError(`bad boolean ${s}`);
      return s === '1';
    }
    case 'double':
    case 'float': {
      const s = readText(lx, name).trim();
      const n = Number(s);
      if (s === '' || !Number.isFinite(n)) throw new XmlRpcSyntaxError(`bad double ${s}`);
      return n;
    }
    case 'string':
      return readText(lx, name);
    case 'dateTime.iso8601':
      return readText(lx, name).trim();
    case 'base64':
      return Buffer.from(readText(lx, name).replace(/\s+/g, ''), 'base64');
    case 'nil':
      if (readText(lx, name).trim() !== '') throw new XmlRpcSyntaxError('<nil> with content');
      return null;
    case 'array':
      return parseArray(lx, name, depth);
    case 'struct':
      return parseStruct(lx, name, depth);
    default:
      throw new XmlRpcSyntaxError(`unknown type <${name}>`);
  }
}

function parseArray(lx: Lexer, name: string, depth: number): XmlRpcValue[] {
  const items: XmlRpcValue[] = [];
  if (!expectOpen(lx, 'data').selfClosing) {
    for (;;) {
      skipWs(lx);
      const t = lx.peek();
      if (t.t === 'close' && t.name === 'data') break;
      items.push(parseValue(lx, depth + 1));
    }
    lx.next();
  }
  expectClose(lx, name);
  return items;
}

function parseStruct(lx: Lexer, name: string, depth: number): XmlRpcStruct {
  const struct: XmlRpcStruct = new Map();
  for (;;) {
    skipWs(lx);
    const t = lx.peek();
    if (t.t === 'close' && t.name === name) break;
    expectOpen(lx, 'member');
    expectOpen(lx, 'name');
    const key = readText(lx, 'name');
    struct.set(key, parseValue(lx, depth + 1));
    expectClose(lx, 'member');
  }
  lx.next();
  return struct;
}

/** Parses a `methodResponse`: one value, or a fault. Throws XmlRpcSyntaxError on anything else. */
export function parseMethodResponse(xml: string): XmlRpcResponse {
  const lx = new Lexer(xml);
  expectOpen(lx, 'methodResponse');
  skipWs(lx);
  const t = lx.next();
  let result: XmlRpcResponse;
  if (t.t === 'open' && t.name === 'params' && !t.selfClosing) {
    expectOpen(lx, 'param');
    result = { kind: 'value', value: parseValue(lx, 0) };
    expectClose(lx, 'param');
    expectClose(lx, 'params');
  } else if (t.t === 'open' && t.name === 'fault' && !t.selfClosing) {
    const fault = parseValue(lx, 0);
    expectClose(lx, 'fault');
    const faultCode = fault instanceof Map ? fault.get('faultCode') : undefined;
    const faultString = fault instanceof Map ? fault.get('faultString') : undefined;
    if (typeof faultCode !== 'number' || typeof faultString !== 'string') {
      throw new XmlRpcSyntaxError('fault without faultCode/faultString');
    }
    result = { kind: 'fault', faultCode, faultString };
  } else {
    throw new XmlRpcSyntaxError(`expected <params> or <fault>, got ${describe(t)}`);
  }
  expectClose(lx, 'methodResponse');
  skipWs(lx);
  const end = lx.next();
  if (end.t !== 'eof') throw new XmlRpcSyntaxError(`unexpected ${describe(end)} after </methodResponse>`);
  return result;
}

/** One `<member>…</member>` element, alone in `xml`: its name and value. */
function parseMember(xml: string): [string, XmlRpcValue] {
  const lx = new Lexer(xml);
  expectOpen(lx, 'member');
  expectOpen(lx, 'name');
  const key = readText(lx, 'name');
  const value = parseValue(lx, 1);
  expectClose(lx, 'member');
  skipWs(lx);
  const end = lx.next();
  if (end.t !== 'eof') throw new XmlRpcSyntaxError(`unexpected ${describe(end)} in a <member>`);
  return [key, value];
}

/** What comes before the first member of a struct answer, and after its last. */
const STRUCT_HEAD =
  /^\s*(?:<\?xml[^>]*\?>)?\s*<methodResponse>\s*<params>\s*<param>\s*<value>\s*<struct>\s*$/;
const STRUCT_TAIL = /^<\/struct>\s*<\/value>\s*<\/param>\s*<\/params>\s*<\/methodResponse>\s*$/;
/** A head longer than this is not the plain struct answer: the whole body is parsed instead. */
const MAX_HEAD = 4096;
/** One member may not be longer than this (a name and a value; PyPI's are under 300 bytes). */
const MAX_MEMBER = 1024 * 1024;

/**
 * Reads a `methodResponse` whose value is a struct (`list_packages_with_serial`: 737,000 members,
 * some 50 MB at PyPI's size) member by member as its text arrives, so that neither the body nor
 * the struct is ever held whole. Members are parsed one at a time by the same grammar as
 * `parseMethodResponse`; a value that contains a member of its own (a nested struct) is refused.
 * Any answer that is not a plain struct (a fault, an empty struct, another type) is collected
 * whole — it is small — and `finish()` parses it with `parseMethodResponse`.
 */
export class StructMemberReader {
  #text = '';
  #pos = 0;
  #state: 'head' | 'members' | 'tail' | 'whole' = 'head';

  /** Feeds decoded text; returns the members completed by it, in order. */
  push(chunk: string): Array<[string, XmlRpcValue]> {
    const out: Array<[string, XmlRpcValue]> = [];
    this.#text = this.#pos === 0 ? this.#text + chunk : this.#text.slice(this.#pos) + chunk;
    this.#pos = 0;
    if (this.#state === 'head') {
      const at = this.#text.indexOf('<member');
      if (at === -1) {
        if (this.#text.length > MAX_HEAD) this.#state = 'whole';
        return out;
      }
      if (!STRUCT_HEAD.test(this.#text.slice(0, at))) {
        this.#state = 'whole';
        return out;
      }
      this.#pos = at;
      this.#state = 'members';
    }
    if (this.#state !== 'members') return out;
    const text = this.#text;
    for (;;) {
      let pos = this.#pos;
      while (pos < text.length && isBlank(text.charCodeAt(pos))) pos++;
      this.#pos = pos;
      if (text.startsWith('<member', pos)) {
        const close = text.indexOf('</member>', pos);
        if (close === -1) {
          if (text.length - pos > MAX_MEMBER)
            throw new XmlRpcSyntaxError(`a <member> longer than ${MAX_MEMBER} bytes`);
          return out;
        }
        const end = close + '</member>'.length;
        out.push(parseMember(text.slice(pos, end)));
        this.#pos = end;
        continue;
      }
      if (text.startsWith('</struct', pos)) {
        this.#state = 'tail';
        return out;
      }
      // An element cut by the chunk's end waits for the next chunk; anything else is an error.
      const rest = text.slice(pos);
      if (rest === '' || '<member'.startsWith(rest) || '</struct'.startsWith(rest)) return out;
      throw new XmlRpcSyntaxError(`expected <member> or </struct> at ${JSON.stringify(rest.slice(0, 40))}`);
    }
  }

  /** At the end of the body: the rest of a struct answer is checked, any other answer parsed whole. */
  finish(): { kind: 'members' } | XmlRpcResponse {
    const rest = this.#text.slice(this.#pos);
    if (this.#state === 'tail') {
      if (!STRUCT_TAIL.test(rest)) throw new XmlRpcSyntaxError('malformed end of the struct answer');
      return { kind: 'members' };
    }
    if (this.#state === 'members') throw new XmlRpcSyntaxError('the struct answer ends before </struct>');
    return parseMethodResponse(rest);
  }
}
