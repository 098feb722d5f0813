import { describe, expect, it } from 'vitest';
import { principalsText } from './Integrations';

describe('principalsText', () => {
  it('names users, then groups, and says nobody when there are none', () => {
    expect(principalsText({ users: ['alice', 'bob'], groups: [] })).toBe('alice, bob');
    expect(principalsText({ users: [], groups: ['approvers'] })).toBe('group approvers');
    expect(principalsText({ users: ['carol'], groups: ['sre', 'dba'] })).toBe(
      'carol; groups sre, dba',
    );
    expect(principalsText({ users: [], groups: [] })).toBe('nobody');
  });
});
