// CRC-32/IEEE (zlib, PNG, gzip): reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF.

const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, as zlib computes it) of `bytes`, as an unsigned 32-bit integer; `crc32("123456789")` is
 * 0xCBF43926. Pass the previous result as `crc` to continue over more bytes (crc32(b, crc32(a)) = crc32(a‖b)).
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
