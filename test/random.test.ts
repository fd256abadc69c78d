// The seeded generator is part of the file format's promise: the same seed gives the same pattern and the same
// initial weights on every machine and in every release. These values were drawn once and must never change.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng } from "../src/engine/random.js";
import { Pattern } from "../src/sparsity/pattern.js";

describe("Rng", () => {
  it("draws the same stream it always has: integers, uniforms, normals, shuffles", () => {
    const r = new Rng(0);
    expect(Array.from({ length: 6 }, () => r.nextU32())).toEqual([
      3809008728, 1133695204, 53579671, 2891528803, 139681546, 2203266335,
    ]);
    const s = new Rng(0xdeadbeef);
    expect(Array.from({ length: 4 }, () => s.int(1000))).toEqual([537, 599, 291, 628]);
    expect(Array.from({ length: 3 }, () => s.normal())).toEqual([
      -0.06084388173837228, -1.1083684340313509, 1.2142508908479235,
    ]);
    expect(s.next()).toBe(0.6319221819285303);
    expect(Array.from(new Rng(7).shuffle(Int32Array.from({ length: 10 }, (_, i) => i)))).toEqual([
      0, 5, 6, 8, 9, 7, 1, 3, 4, 2,
    ]);
  });

  it("ints(n, count) draws what count calls of int(n) draw, and leaves the same state", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.nat(300), (seed, n, count) => {
        const one = new Rng(seed),
          many = new Rng(seed);
        expect(Array.from(many.ints(n, count))).toEqual(Array.from({ length: count }, () => one.int(n)));
        expect(many.nextU32()).toBe(one.nextU32());
      }),
    );
  });

  it("gives the patterns it always has (the hashes model files record)", () => {
    expect(Pattern.fixedDegree(800, 40, 2, 0).hash).toBe("6163afe9b9be5480");
    expect(Pattern.fixedDegree(40, 40, 9, 3).hash).toBe("3a5161f7cfcfcc4d");
    expect(Pattern.random(30, 20, 0.3, 5).hash).toBe("040ec7631c84f4a5");
    // 18M input-output pairs: past the byte map, fixedDegree keeps its edges in a set
    expect(Pattern.fixedDegree(6000, 3000, 3, 1).hash).toBe("e6e1631ddb7b7d32");
    expect(Pattern.fixedDegree(1024, 1024, 102, 0).hash).toBe("23601d53ce8a4069");
  });
});
