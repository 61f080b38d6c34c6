import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  machNixName,
  normalizeExtra,
  parseSdistFilename,
  parseWheelFilename,
  pep503Name,
} from '../src/index';

describe('names', () => {
  it('normalizes per PEP 503, PEP 685 and mach-nix', () => {
    expect(pep503Name('Zope.Interface__x')).toBe('zope-interface-x');
    expect(normalizeExtra('Foo.Bar_baz')).toBe('foo-bar-baz');
    expect(machNixName('Zope.Interface__x')).toBe('zope.interface--x');
  });

  it('puts keys in the buckets docs/formats.md lists', () => {
    expect(['a10-neutron-lbaas', 'aio.run.checker', '2feeds', 'abakaffe-cli'].map(bucketOf)).toEqual([
      '00',
      '00',
      '01',
      '01',
    ]);
  });
});

describe('filenames', () => {
  it('splits sdist names, by the project name when known', () => {
    expect(parseSdistFilename('foo-bar-1.0-2.tar.gz')).toEqual({
      name: 'foo-bar',
      version: '1.0-2',
      suffix: '.tar.gz',
    });
    expect(parseSdistFilename('foo-bar-1.0-2.tar.gz', 'foo')).toMatchObject({
      name: 'foo',
      version: 'bar-1.0-2',
    });
    expect(parseSdistFilename('Foo_Bar-1.0.zip', 'foo.bar')).toMatchObject({
      name: 'Foo_Bar',
      version: '1.0',
    });
    expect(parseSdistFilename('foo--bar-1.0.tgz', 'foo-bar')).toMatchObject({
      name: 'foo--bar',
      version: '1.0',
    });
    expect(parseSdistFilename('foo-.-1.0.tgz', 'foo-')).toMatchObject({ name: 'foo-.', version: '1.0' });
    expect(parseSdistFilename('foo-1.0.tar.gz', 'other')).toMatchObject({ name: 'foo', version: '1.0' });
    expect(() => parseSdistFilename('foo.tar.gz')).toThrow(
      expect.objectContaining({ code: 'filename-invalid' }),
    );
  });

  it('splits an sdist name with thousands of dashes in linear time', () => {
    const t0 = performance.now();
    expect(() => parseSdistFilename(`${'foo-x-'.repeat(20000)}.tar.gz`, 'foo-1')).toThrow();
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('splits wheel names', () => {
    expect(parseWheelFilename('a10_neutron_lbaas-1.7.4-1-py2-none-any.whl')).toEqual({
      name: 'a10_neutron_lbaas',
      version: '1.7.4',
      build: '1',
      pythonTag: 'py2',
      abiTag: 'none',
      platformTag: 'any',
    });
  });
});
