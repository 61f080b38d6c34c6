import { describe, expect, it } from 'vitest';
import {
  parseMethodResponse,
  StructMemberReader,
  serializeMethodCall,
  XmlRpcSyntaxError,
} from '../src/xmlrpc-codec';
import { xmlFault, xmlResponse } from './helpers';

const wrap = (inner: string) =>
  `<?xml version="1.0"?><methodResponse><params><param><value>${inner}</value></param></params></methodResponse>`;

describe('XML-RPC codec', () => {
  it('serializes a call', () => {
    expect(serializeMethodCall('changelog_since_serial', [42])).toBe(
      '<?xml version="1.0"?>\n<methodCall><methodName>changelog_since_serial</methodName>' +
        '<params><param><value><int>42</int></value></param></params></methodCall>\n',
    );
    expect(
      serializeMethodCall('m', ['a<&>', true, null, 2 ** 40, 1.5, [1], new Map([['k', 'v']])]),
    ).toContain(
      '<string>a&lt;&amp;&gt;</string></value></param><param><value><boolean>1</boolean></value></param>' +
        '<param><value><nil/></value></param><param><value><i8>1099511627776</i8></value></param>' +
        '<param><value><double>1.5</double></value></param>' +
        '<param><value><array><data><value><int>1</int></value></data></array></value></param>' +
        '<param><value><struct><member><name>k</name><value><string>v</string></value></member></struct>',
    );
  });

  it('parses every scalar type PyPI and Python send', () => {
    const value = (inner: string) => {
      const r = parseMethodResponse(wrap(inner));
      if (r.kind !== 'value') throw new Error('fault');
      return r.value;
    };
    expect(value('<int>7</int>')).toBe(7);
    expect(value('<i4>-7</i4>')).toBe(-7);
    expect(value('<i8>30000000000</i8>')).toBe(30_000_000_000);
    expect(value('<ex:i8>5</ex:i8>')).toBe(5);
    expect(value('<boolean>1</boolean>')).toBe(true);
    expect(value('<boolean>0</boolean>')).toBe(false);
    expect(value('<double>1.25</double>')).toBe(1.25);
    expect(value('<string>a &lt;b&gt; &amp; &#233;&#x41;</string>')).toBe('a <b> & éA');
    expect(value('<string></string>')).toBe('');
    expect(value('<string/>')).toBe('');
    expect(value('untyped  text ')).toBe('untyped  text ');
    expect(value('')).toBe('');
    expect(value('<nil/>')).toBeNull();
    expect(value('<ex:nil/>')).toBeNull();
    expect(value('<string><![CDATA[<raw>]]></string>')).toBe('<raw>');
    expect(value('<dateTime.iso8601>20240102T03:04:05</dateTime.iso8601>')).toBe('20240102T03:04:05');
    expect(value('<base64>aGk=</base64>')).toEqual(Buffer.from('hi'));
  });

  it('parses arrays and structs, with whitespace and comments between elements', () => {
    const xml = xmlResponse([
      ['flask', '1.0', 1700000000, 'new release', 101],
      ['flask', null, 1700000001, 'remove project', 102],
      { __proto__x: 1, 'odd name': [true, 'x'] },
    ]).replace('<params>', '<params><!-- a comment -->');
    const r = parseMethodResponse(xml);
    expect(r).toEqual({
      kind: 'value',
      value: [
        ['flask', '1.0', 1700000000, 'new release', 101],
        ['flask', null, 1700000001, 'remove project', 102],
        new Map<string, unknown>([
          ['__proto__x', 1],
          ['odd name', [true, 'x']],
        ]),
      ],
    });
  });

  it('keeps a "__proto__" member as a plain key', () => {
    const r = parseMethodResponse(
      wrap('<struct><member><name>__proto__</name><value><int>1</int></value></member></struct>'),
    );
    expect(r).toEqual({ kind: 'value', value: new Map([['__proto__', 1]]) });
  });

  it('parses faults', () => {
    expect(
      parseMethodResponse(xmlFault(-32500, 'HTTPTooManyRequests: Limit may reset in 1 seconds.')),
    ).toEqual({
      kind: 'fault',
      faultCode: -32500,
      faultString: 'HTTPTooManyRequests: Limit may reset in 1 seconds.',
    });
  });

  it.each([
    ['not xml', 'hello'],
    ['truncated', wrap('<int>1</int>').slice(0, 60)],
    ['mismatched tags', wrap('<int>1</i4>')],
    ['bad integer', wrap('<int>1.5</int>')],
    ['unsafe integer', wrap('<i8>99999999999999999999</i8>')],
    ['bad boolean', wrap('<boolean>yes</boolean>')],
    ['unknown type', wrap('<float128>1</float128>')],
    ['unknown entity', wrap('<string>&nbsp;</string>')],
    ['bare ampersand', wrap('<string>a & b</string>')],
    ['text beside a typed value', wrap('x<int>1</int>')],
    [
      'a DOCTYPE (entity expansion)',
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>${wrap('<int>1</int>')}`,
    ],
    ['trailing garbage', `${wrap('<int>1</int>')}<extra/>`],
    [
      'fault without code',
      '<methodResponse><fault><value><struct></struct></value></fault></methodResponse>',
    ],
    ['deep nesting', wrap(`${'<array><data><value>'.repeat(100)}1${'</value></data></array>'.repeat(100)}`)],
  ])('rejects %s', (_label, xml) => {
    expect(() => parseMethodResponse(xml)).toThrow(XmlRpcSyntaxError);
  });

  it('reads a large list_packages_with_serial answer quickly', () => {
    const n = 100_000;
    const members: string[] = [];
    for (let i = 0; i < n; i++)
      members.push(`<member>\n<name>pkg-${i}</name>\n<value><int>${i}</int></value>\n</member>`);
    const xml = wrap(`<struct>\n${members.join('\n')}\n</struct>`);
    const t0 = performance.now();
    const r = parseMethodResponse(xml);
    const ms = performance.now() - t0;
    if (r.kind !== 'value') throw new Error('fault');
    const map = r.value as Map<string, unknown>;
    expect(map.size).toBe(n);
    expect(map.get('pkg-99999')).toBe(99_999);
    expect(ms).toBeLessThan(5000);
  });
});

describe('StructMemberReader (list_packages_with_serial read as it arrives)', () => {
  const listing = xmlResponse({ flask: 10, 'Foo_Bar &amp; co': 2 ** 40, 'zope.interface': 0 });
  const parsed = parseMethodResponse(listing);
  if (parsed.kind !== 'value') throw new Error('fault');

  /** Feeds `text` in pieces of `step` characters; members in order, then what finish() says. */
  function read(text: string, step: number) {
    const reader = new StructMemberReader();
    const members: Array<[string, unknown]> = [];
    for (let i = 0; i < text.length; i += step) members.push(...reader.push(text.slice(i, i + step)));
    return { members, end: reader.finish() };
  }

  it('gives the members parseMethodResponse gives, wherever the chunks are cut', () => {
    for (const step of [1, 2, 3, 7, 16, 64, listing.length]) {
      const { members, end } = read(listing, step);
      expect(members).toEqual([...(parsed.value as Map<string, unknown>)]);
      expect(end).toEqual({ kind: 'members' });
    }
    expect(read(listing, 1).members[1]).toEqual(['Foo_Bar & co', 2 ** 40]);
  });

  it('hands members out before the body ends', () => {
    const reader = new StructMemberReader();
    const cut = listing.indexOf('<member>', listing.indexOf('</member>'));
    expect(reader.push(listing.slice(0, cut))).toEqual([['flask', 10]]);
  });

  it('parses any other answer whole: a fault, an empty struct, another type', () => {
    expect(read(xmlFault(-32500, 'slow down'), 5).end).toEqual({
      kind: 'fault',
      faultCode: -32500,
      faultString: 'slow down',
    });
    for (const empty of [xmlResponse({}), wrap('<struct/>')]) {
      const { members, end } = read(empty, 4);
      expect(members).toEqual([]);
      expect(end).toEqual({ kind: 'value', value: new Map() });
    }
    expect(read(xmlResponse([1, 2]), 3).end).toEqual({ kind: 'value', value: [1, 2] });
  });

  it('refuses a body cut short, text between members, a nested struct and a bad end', () => {
    const bad = [
      listing.slice(0, listing.indexOf('</struct>')),
      listing.replace('</member>\n<member>', '</member>junk<member>'),
      wrap(
        '<struct><member><name>a</name><value><struct><member><name>b</name><value><int>1</int></value></member></struct></value></member></struct>',
      ),
      listing.replace('</params>', '</param>'),
      listing.replace('<int>10</int>', '<int>ten</int>'),
    ];
    for (const text of bad) expect(() => read(text, 9), text).toThrow(XmlRpcSyntaxError);
  });
});
