import { describe, expect, it } from 'vitest';
import { mapDma, setup, unmapDma } from './helpers.js';

describe('smoke', () => {
  it('maps and unmaps', () => {
    const { p, c } = setup();
    const m = p.mmap({ length: 0x200000 });
    expect(mapDma(p, c, m.address, 0x100000n, 0x200000n)).toBe(0);
    expect(unmapDma(p, c, 0x100000n, 0x200000n)).toBe(0x200000n);
  });
});
