import { describe, expect, it } from 'vitest';
import { swapRemove } from '../../../src/proxy/sweep.js';

describe('swapRemove', () => {
  it('moves the last item into the slot taken out, and says which moved', () => {
    const items = ['a', 'b', 'c', 'd'];
    expect(swapRemove(items, 1)).toBe('d');
    expect(items).toEqual(['a', 'd', 'c']);
  });

  it('moves nothing when the last item is the one taken out', () => {
    const items = ['a', 'b'];
    expect(swapRemove(items, 1)).toBeUndefined();
    expect(items).toEqual(['a']);
    expect(swapRemove(items, 0)).toBeUndefined();
    expect(items).toEqual([]);
  });
});
