import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../api/client';
import type { AccessRequest } from '../../../api/types';
import { decideAll, summary } from './bulk';

describe('decideAll', () => {
  it('decides each in order and keeps every outcome', async () => {
    const seen: string[] = [];
    const progress: number[] = [];
    const out = await decideAll(
      ['AR-00001', 'AR-00002', 'AR-00003'],
      async (id) => {
        seen.push(id);
        if (id === 'AR-00002')
          throw new ApiError(409, 'conflict', 'AR-00002 is GRANTING, not PENDING');
        return { id, status: 'GRANTING' } as AccessRequest;
      },
      (n) => progress.push(n),
    );
    expect(seen).toEqual(['AR-00001', 'AR-00002', 'AR-00003']);
    expect(progress).toEqual([1, 2, 3]);
    expect(out.map((o) => [o.id, o.ok, o.text])).toEqual([
      ['AR-00001', true, 'GRANTING'],
      ['AR-00002', false, 'AR-00002 is GRANTING, not PENDING'],
      ['AR-00003', true, 'GRANTING'],
    ]);
    expect(summary('Approved', out)).toBe('Approved 2 of 3; 1 failed.');
    expect(
      summary(
        'Rejected',
        out.filter((o) => o.ok),
      ),
    ).toBe('Rejected 2 of 2.');
  });
});
