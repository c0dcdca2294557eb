/**
 * Deterministic hostile output, the same from the test (JS) and from the
 * command under test (`hostileCommand`, Python): NULs, controls, quotes,
 * invalid UTF-8, surrogate-like and 4-byte sequences, in a seeded order.
 */

/** What a command might write: NULs, controls, quotes, invalid UTF-8, surrogate-like and 4-byte sequences. */
export const PIECES = [
  [0],
  [0, 0, 0],
  [0x22],
  [0x5c],
  [0x0a],
  [0x1f, 0x7f],
  [0xf0, 0x9f, 0x98, 0x80], // 😀
  [0xe2, 0x82, 0xac], // €
  [0xc3, 0xa9], // é
  [0xff],
  [0xfe, 0xff],
  [0xed, 0xa0, 0x80], // a surrogate, UTF-8-encoded: invalid
  [0xed, 0xb0, 0x80],
  [0xc0, 0x80], // overlong NUL
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xe2, 0x82], // truncated €
  [0xf0, 0x9f, 0x98], // truncated 😀
  [0x80, 0x80],
  [...Buffer.from('plain text, ')],
  [...Buffer.from('<script>\u2028\u2029</script>')],
];

/** The pieces that are valid UTF-8 (NULs, controls and 4-byte characters included). */
export const VALID = PIECES.filter((p) => Buffer.from(p).toString('utf8') !== '' && Buffer.from(Buffer.from(p).toString('utf8')).equals(Buffer.from(p)));

export function hostile(n: number, seed: number, valid = false): Buffer {
  const pieces = valid ? VALID : PIECES;
  const out: number[] = [];
  let x = seed;
  while (out.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(...pieces[(x >>> 8) % pieces.length]!);
  }
  return Buffer.from(out.slice(0, n));
}

/** A shell command writing hostile(n, seed, valid) to fd `fd` in writes of `step` bytes (so chunk edges fall inside characters). */
export function hostileCommand(n: number, seed: number, fd = 1, step = 4093, valid = false): string {
  const py = `import os
P = ${JSON.stringify(valid ? VALID : PIECES)}
x = ${seed}
out = bytearray()
while len(out) < ${n}:
    x = (x * 1103515245 + 12345) & 0xffffffff
    out += bytes(P[(x >> 8) % len(P)])
out = bytes(out[:${n}])
for i in range(0, ${n}, ${step}):
    os.write(${fd}, out[i:i + ${step}])
`;
  return `python3 -c '${py.replace(/'/g, `'\\''`)}'`;
}
