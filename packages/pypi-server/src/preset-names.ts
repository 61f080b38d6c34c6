import { invariantError } from '@pypi-graph/core';
import { Permutation24, PURPOSE, Stream } from './preset-random';

// Project names of the PyPI-shaped preset: a bijection between project indexes and names, so
// that a name in a URL, a file name or a Requires-Dist line leads back to its project by
// arithmetic, with no table of 700,000 names in memory.
//
// PEP 503 names are unique on PyPI; what varies is the spelling. Every project has one display
// name, in one of the spellings PyPI is full of (`tem-kovar`, `Tem_Kovar`, `tem.kovar`,
// `TemKovar`, `TEM-KOVAR`, `kovarit`), and the files and metadata of its releases spell it in
// the ways the tools of their time did (preset-plan.ts).
//
// Words are pronounceable pseudo-words made of consonant-vowel syllables and a final consonant
// (`tem`, `kovar`, `lisotem`). A word boundary is where a consonant follows a consonant, so a
// name written without separators (`temkovar`) still splits into its words: the normalized name
// alone gives the words, the words give the index.

const CONSONANTS = 'bdfgklmnprstvz';
const VOWELS = 'aeiou';
const C = CONSONANTS.length;
const V = VOWELS.length;
const SYLLABLES = C * V;

/** How many words of `syllables` syllables (plus the final consonant) exist. */
const wordCount = (syllables: number) => SYLLABLES ** syllables * C;

const SHORT = wordCount(1); // `tem`: 980
const MEDIUM = wordCount(2); // `kovar`: 68,600
const LONG = wordCount(3); // `lisotem`: 4,802,000

/** Indexes (and so names) exist below this: 2^24, the permutation's domain. */
export const MAX_PROJECTS = 1 << 24;

// The permuted index n picks the shape of the name: [0, A) one medium word, [A, B) one long
// word, [B, 2^24) a short word then a medium word — about 29 % single words, 71 % two words.
const A = MEDIUM;
const B = A + LONG;
/** An odd multiplier coprime with MEDIUM, spreading the second word over all medium words. */
const SPREAD = 7919;
const SPREAD_INVERSE = modInverse(SPREAD, MEDIUM);

function modInverse(a: number, m: number): number {
  let [r0, r1] = [m, a % m];
  let [t0, t1] = [0, 1];
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1);
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  if (r0 !== 1) throw invariantError(`${a} has no inverse modulo ${m}`);
  return ((t0 % m) + m) % m;
}

function word(rank: number, syllables: number): string {
  let s = '';
  let r = rank;
  const last = r % C;
  r = Math.floor(r / C);
  for (let i = 0; i < syllables; i++) {
    const syl = r % SYLLABLES;
    r = Math.floor(r / SYLLABLES);
    s += CONSONANTS[Math.floor(syl / V)]! + VOWELS[syl % V]!;
  }
  return s + CONSONANTS[last]!;
}

/** The rank of a word (its syllables and final consonant), or -1. */
function wordRank(w: string): number {
  if (w.length < 3 || w.length % 2 === 0) return -1;
  const last = CONSONANTS.indexOf(w[w.length - 1]!);
  if (last < 0) return -1;
  let rank = 0;
  for (let i = w.length - 3; i >= 0; i -= 2) {
    const c = CONSONANTS.indexOf(w[i]!);
    const v = VOWELS.indexOf(w[i + 1]!);
    if (c < 0 || v < 0) return -1;
    rank = rank * SYLLABLES + c * V + v;
  }
  return rank * C + last;
}

/** Splits a run of letters into words at every consonant followed by a consonant. */
function splitWords(s: string): string[] | undefined {
  const words: string[] = [];
  let pos = 0;
  while (pos < s.length) {
    if (!CONSONANTS.includes(s[pos]!)) return undefined;
    let j = pos + 1;
    while (j < s.length && VOWELS.includes(s[j]!)) {
      if (j + 1 >= s.length || !CONSONANTS.includes(s[j + 1]!)) return undefined;
      j += 2;
    }
    words.push(s.slice(pos, j));
    pos = j;
  }
  return words;
}

/** The words of permuted index n. */
function wordsOf(n: number): string[] {
  if (n < A) return [word(n, 2)];
  if (n < B) return [word(n - A, 3)];
  const rank = n - B;
  return [word(rank % SHORT, 1), word((Math.floor(rank / SHORT) * SPREAD) % MEDIUM, 2)];
}

/** Inverse of {@link wordsOf}, or -1. */
function indexOfWords(words: string[]): number {
  if (words.length === 1) {
    const w = words[0]!;
    const r = wordRank(w);
    if (r < 0) return -1;
    if (w.length === 5) return r;
    if (w.length === 7) return A + r;
    return -1;
  }
  if (words.length === 2 && words[0]!.length === 3 && words[1]!.length === 5) {
    const a = wordRank(words[0]!);
    const b = wordRank(words[1]!);
    if (a < 0 || b < 0) return -1;
    const n = B + ((b * SPREAD_INVERSE) % MEDIUM) * SHORT + a;
    return n < MAX_PROJECTS ? n : -1;
  }
  return -1;
}

export interface PresetName {
  /** As PyPI shows it (JSON API `info.name`, the changelog, `list_packages_with_serial`). */
  display: string;
  /** PEP 503. */
  normalized: string;
  /** The words, lower case: what file names and Requires-Dist lines spell in their own ways. */
  words: string[];
  /** Whether the display name puts a separator between its words (`tem-kovar`, not `TemKovar`). */
  separated: boolean;
}

const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);

// Normalized names are at most 9 characters of `-` and a–z: as base-28 numbers (0 pads, 1 is
// `-`, 2… the letters) they sort the way the strings do, and fit a double exactly. Sorting
// 700,000 of them for `/simple/` then needs one Float64Array, not 700,000 strings.
const KEY_LENGTH = 9;
const KEY_ALPHABET = '-abcdefghijklmnopqrstuvwxyz';

/** A number that sorts like the normalized name. */
export function sortKey(normalized: string): number {
  let key = 0;
  for (let i = 0; i < KEY_LENGTH; i++) {
    key = key * 28 + (i < normalized.length ? KEY_ALPHABET.indexOf(normalized[i]!) + 1 : 0);
  }
  return key;
}

/** The normalized name of a {@link sortKey}. */
export function fromSortKey(key: number): string {
  let s = '';
  for (let i = 0; i < KEY_LENGTH; i++) {
    const c = key % 28;
    key = (key - c) / 28;
    if (c > 0) s = KEY_ALPHABET[c - 1]! + s;
  }
  return s;
}

/** Names of the preset's projects, for one seed. */
export class PresetNames {
  private readonly perm: Permutation24;

  constructor(private readonly seed: number) {
    this.perm = new Permutation24(seed);
  }

  name(index: number): PresetName {
    const words = wordsOf(this.perm.forward(index));
    const r = new Stream(this.seed, index, PURPOSE.style);
    if (words.length === 1) {
      const w = words[0]!;
      const style = r.weighted([80, 17, 3]);
      const display = style === 0 ? w : style === 1 ? cap(w) : w.toUpperCase();
      return { display, normalized: w, words, separated: false };
    }
    const sep = ['-', '_', '.', ''][r.weighted([50, 18, 8, 24])]!;
    const style = r.weighted([68, 24, 3, 5]);
    const cased =
      style === 0
        ? words
        : style === 1 || (style === 2 && sep === '')
          ? words.map(cap)
          : style === 2
            ? [words[0]!.toUpperCase(), words[1]!]
            : words.map((w) => w.toUpperCase());
    return {
      display: cased.join(sep),
      normalized: words.join(sep === '' ? '' : '-'),
      words,
      separated: sep !== '',
    };
  }

  /**
   * The index whose normalized name is `normalized` (any spelling is normalized first), or
   * undefined. Whether that project exists at a given day is the caller's question.
   */
  indexOf(name: string): number | undefined {
    const normalized = name.replace(/[-_.]+/g, '-').toLowerCase();
    const words = normalized.includes('-') ? normalized.split('-') : splitWords(normalized);
    if (!words || words.some((w) => w === '')) return undefined;
    const n = indexOfWords(words);
    if (n < 0) return undefined;
    const index = this.perm.inverse(n);
    return this.name(index).normalized === normalized ? index : undefined;
  }
}
