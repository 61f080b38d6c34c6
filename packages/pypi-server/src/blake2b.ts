// BLAKE2b with a 256-bit digest, which PyPI uses for `digests.blake2b_256` and for the
// storage path of every file (`/packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`).
// Node's crypto only offers blake2b512, and BLAKE2b-256 is not a truncation of it (the
// digest length is part of the initial state): @noble/hashes' implementation (RFC 7693).
import { blake2b } from '@noble/hashes/blake2b';

/** An incremental BLAKE2b-256: `update` with pieces, then `digest` once. */
export function blake2b256(): { update(data: Uint8Array): unknown; digest(): Uint8Array } {
  return blake2b.create({ dkLen: 32 });
}

/** BLAKE2b-256 of `data`, lower-case hex. */
export function blake2b256Hex(data: Uint8Array): string {
  return Buffer.from(blake2b(data, { dkLen: 32 })).toString('hex');
}
