import fc from 'fast-check';

/** Ways to damage good DER: flip bits, truncate, inflate a length, nest deeply, append junk. */
export function damagedDer(good: Uint8Array): fc.Arbitrary<Uint8Array> {
  const flip = fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
    const out = Uint8Array.from(good);
    out[i]! ^= 1 << bit;
    return out;
  });
  const truncate = fc.nat({ max: good.length - 1 }).map((n) => good.slice(0, n));
  const hugeLength = fc.constantFrom(0x84, 0x88, 0xff).map((b) => Uint8Array.from([0x30, b, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]));
  const nested = fc.integer({ min: 100, max: 5000 }).map((depth) => {
    const out = new Uint8Array(depth * 2);
    for (let i = 0; i < depth; i++) {
      out[i * 2] = 0x30;
      out[i * 2 + 1] = 0x80; // indefinite length, never closed
    }
    return out;
  });
  const junk = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((j) => Uint8Array.from([...good, ...j]));
  return fc.oneof(flip, flip, truncate, hugeLength, nested, junk, fc.uint8Array({ maxLength: 512 }));
}

/** Base64 and PEM with junk in them, and text that is neither. */
export function damagedText(goodBase64: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.nat({ max: Math.max(0, goodBase64.length - 1) }).map((i) => goodBase64.slice(0, i) + '!@#' + goodBase64.slice(i)),
    fc.constant(`-----BEGIN CERTIFICATE REQUEST-----\n${goodBase64.slice(0, 40)}*&^\n-----END CERTIFICATE REQUEST-----`),
    fc.constant('-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----'),
  );
}

/** JSON bodies that are wrong in shape, type or encoding. */
export function hostileJson(): fc.Arbitrary<{ body: Uint8Array; type: string }> {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  return fc.oneof(
    fc.jsonValue().map((v) => ({ body: utf8(JSON.stringify(v)), type: 'application/json' })),
    fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })).map((v) => ({ body: utf8(JSON.stringify({ ...v, unexpected: true })), type: 'application/json' })),
    fc.uint8Array({ maxLength: 200 }).map((b) => ({ body: Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, ...b]), type: 'application/json' })),
    fc.string({ maxLength: 100 }).map((s) => ({ body: utf8(s), type: fc.sample(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', ''), 1)[0]! })),
    fc.constant({ body: utf8('{"a":' + '['.repeat(5000)), type: 'application/json' }),
  );
}
