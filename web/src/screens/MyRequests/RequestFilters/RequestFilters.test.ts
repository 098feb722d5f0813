import { describe, expect, it } from 'vitest';
import { filterFromQuery, filterToQuery } from './RequestFilters';

describe('filters in the URL', () => {
  it('round-trips', () => {
    const f = {
      search: "o'brien db",
      integration: 'bundle all',
      resourceType: 'database',
      status: 'ACTIVE' as const,
    };
    expect(filterFromQuery(filterToQuery(f))).toEqual(f);
  });
  it('leaves empty values out', () => {
    expect(filterToQuery({ search: '', status: '' })).toBe('');
    expect(filterFromQuery('')).toEqual({
      search: '',
      integration: '',
      resourceType: '',
      status: '',
    });
  });
});
