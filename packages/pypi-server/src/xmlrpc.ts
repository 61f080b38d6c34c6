import { XMLParser, XMLValidator } from 'fast-xml-parser';

// XML-RPC as PyPI speaks it: requests parsed per the XML-RPC spec, responses written exactly
// as Python's `xmlrpc.client.dumps(..., methodresponse=True, allow_none=True)` writes them
// (warehouse renders through pyramid_rpc with `XMLRPCRenderer(allow_none=True)`, so a
// missing version is `<nil/>`). https://xmlrpc.com/spec.md

/** An XML-RPC `<double>`, kept apart from `<int>` so that strict integer parameters can be checked. */
export class XmlRpcDouble {
  constructor(readonly value: number) {}
}

export type XmlRpcValue =
  | null
  | boolean
  | number
  | string
  | XmlRpcDouble
  | Buffer
  | XmlRpcValue[]
  | Map<string, XmlRpcValue>
  | { [key: string]: XmlRpcValue };

export class XmlRpcFault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(faultString);
  }
}

// pyramid_rpc's fault codes (pyramid_rpc/xmlrpc.py).
export const parseErrorFault = () => new XmlRpcFault(-32700, 'parse error; not well formed');
export const methodNotFoundFault = () => new XmlRpcFault(-32601, 'server error; requested method not found');
/** warehouse's XMLRPCWrappedError: code -32500, "<ExceptionClass>: <message>". */
export const wrappedFault = (exception: string, message: string) =>
  new XmlRpcFault(-32500, `${exception}: ${message}`);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => name === 'param' || name === 'value' || name === 'member',
});

/** Parses a `<methodCall>`; throws the parse-error fault when it is not one. */
export function parseMethodCall(body: string): { method: string; params: XmlRpcValue[] } {
  if (body.trim() === '' || XMLValidator.validate(body) !== true) throw parseErrorFault();
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(body) as Record<string, unknown>;
  } catch {
    throw parseErrorFault();
  }
  const call = doc.methodCall as Record<string, unknown> | undefined;
  if (!call || typeof call !== 'object') throw parseErrorFault();
  const method = typeof call.methodName === 'string' ? call.methodName.trim() : undefined;
  if (!method) throw methodNotFoundFault();
  const params: XmlRpcValue[] = [];
  const paramsNode = call.params as Record<string, unknown> | undefined;
  const paramList = (paramsNode && typeof paramsNode === 'object' ? paramsNode.param : undefined) as
    | Array<Record<string, unknown>>
    | undefined;
  for (const param of paramList ?? []) {
    const values = (param as Record<string, unknown>).value as unknown[] | undefined;
    if (values?.length !== 1) throw parseErrorFault();
    params.push(decodeValue(values[0]));
  }
  return { method, params };
}

function decodeValue(node: unknown): XmlRpcValue {
  // <value>text</value> without a type is a string.
  if (typeof node === 'string') return node;
  if (!node || typeof node !== 'object') return '';
  const n = node as Record<string, unknown>;
  const type = Object.keys(n).find((k) => k !== '#text');
  if (!type) return typeof n['#text'] === 'string' ? (n['#text'] as string) : '';
  const raw = n[type];
  const text = typeof raw === 'string' ? raw.trim() : '';
  switch (type) {
    case 'int':
    case 'i4':
    case 'i8': {
      if (!/^[+-]?\d+$/.test(text)) throw parseErrorFault();
      return Number(text);
    }
    case 'boolean':
      if (text !== '0' && text !== '1') throw parseErrorFault();
      return text === '1';
    case 'double': {
      const d = Number(text);
      if (text === '' || Number.isNaN(d)) throw parseErrorFault();
      return new XmlRpcDouble(d);
    }
    case 'string':
      return typeof raw === 'string' ? raw : '';
    case 'nil':
      return null;
    case 'dateTime.iso8601':
      return text;
    case 'base64':
      return Buffer.from(text, 'base64');
    case 'array': {
      const data = (raw as Record<string, unknown> | undefined)?.data as Record<string, unknown> | undefined;
      const values = (data && typeof data === 'object' ? (data.value as unknown[]) : undefined) ?? [];
      return values.map(decodeValue);
    }
    case 'struct': {
      const out: { [key: string]: XmlRpcValue } = {};
      const members = ((raw as Record<string, unknown> | undefined)?.member as unknown[]) ?? [];
      for (const m of members) {
        const member = m as Record<string, unknown>;
        const values = member.value as unknown[] | undefined;
        if (typeof member.name !== 'string' || !values || values.length !== 1) throw parseErrorFault();
        out[member.name] = decodeValue(values[0]);
      }
      return out;
    }
    default:
      throw parseErrorFault();
  }
}

// xmlrpc.client.escape
function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function dumpValue(value: XmlRpcValue | undefined, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('<value><nil/></value>'); // sic: Python writes no newline after nil
  } else if (typeof value === 'boolean') {
    out.push(`<value><boolean>${value ? 1 : 0}</boolean></value>\n`);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && Math.abs(value) <= 0x7fffffff)
      out.push(`<value><int>${value}</int></value>\n`);
    else out.push(`<value><double>${value}</double></value>\n`);
  } else if (value instanceof XmlRpcDouble) {
    out.push(`<value><double>${value.value}</double></value>\n`);
  } else if (typeof value === 'string') {
    out.push(`<value><string>${escapeXml(value)}</string></value>\n`);
  } else if (Buffer.isBuffer(value)) {
    out.push(`<value><base64>\n${value.toString('base64')}\n</base64></value>\n`);
  } else if (Array.isArray(value)) {
    out.push('<value><array><data>\n');
    for (const item of value) dumpValue(item, out);
    out.push('</data></array></value>\n');
  } else {
    // A Map keeps its order; JavaScript objects move integer-like keys (a project "2048") first.
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    out.push('<value><struct>\n');
    for (const [k, v] of entries) {
      out.push(`<member>\n<name>${escapeXml(k)}</name>\n`);
      dumpValue(v, out);
      out.push('</member>\n');
    }
    out.push('</struct></value>\n');
  }
}

/** A `<methodResponse>` carrying one value. */
export function dumpResponse(value: XmlRpcValue): string {
  return [...dumpResponseChunks(value)].join('');
}

/**
 * An array or struct whose items are produced while the response is written, so that a
 * listing of 700,000 projects is never held whole. Only as the top-level value.
 */
export class LazyArray {
  constructor(readonly items: Iterable<XmlRpcValue>) {}
}
export class LazyStruct {
  constructor(readonly members: Iterable<[string, XmlRpcValue]>) {}
}

const CHUNK = 64 * 1024;

/** A `<methodResponse>` carrying one value, in chunks of about 64 KiB. */
export function* dumpResponseChunks(value: XmlRpcValue | LazyArray | LazyStruct): Generator<string> {
  const head = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n";
  const tail = '</param>\n</params>\n</methodResponse>\n';
  if (!(value instanceof LazyArray || value instanceof LazyStruct)) {
    const out = [head];
    dumpValue(value, out);
    out.push(tail);
    yield out.join('');
    return;
  }
  const array = value instanceof LazyArray;
  let out: string[] = [head, array ? '<value><array><data>\n' : '<value><struct>\n'];
  let size = 0;
  const flush = function* () {
    if (out.length > 0) yield out.join('');
    out = [];
    size = 0;
  };
  if (array) {
    for (const item of value.items) {
      const before = out.length;
      dumpValue(item, out);
      for (let i = before; i < out.length; i++) size += out[i]!.length;
      if (size >= CHUNK) yield* flush();
    }
  } else {
    for (const [k, v] of value.members) {
      out.push(`<member>\n<name>${escapeXml(k)}</name>\n`);
      const before = out.length;
      dumpValue(v, out);
      out.push('</member>\n');
      size += k.length + 30;
      for (let i = before; i < out.length; i++) size += out[i]!.length;
      if (size >= CHUNK) yield* flush();
    }
  }
  out.push(array ? '</data></array></value>\n' : '</struct></value>\n', tail);
  yield* flush();
}

/** A `<methodResponse>` carrying a fault. */
export function dumpFault(fault: XmlRpcFault): string {
  const out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"];
  dumpValue({ faultCode: fault.faultCode, faultString: fault.faultString }, out);
  out.push('</fault>\n</methodResponse>\n');
  return out.join('');
}
