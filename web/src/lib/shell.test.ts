import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from './shell';

describe('shellQuote', () => {
  it('leaves safe words bare, as the CLI does', () => {
    expect(shellQuote('appdb')).toBe('appdb');
    expect(shellQuote('pg-local')).toBe('pg-local');
    expect(shellQuote('a@b.c:5432/x,y=z+1%')).toBe('a@b.c:5432/x,y=z+1%');
  });

  it('single-quotes everything else', () => {
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('INC 42')).toBe("'INC 42'");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote('a;b')).toBe("'a;b'");
    expect(shellQuote('*')).toBe("'*'");
    expect(shellQuote('~')).toBe("'~'");
    expect(shellQuote('née')).toBe("'née'");
  });

  it("writes ' as '\\''", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("'")).toBe(`''\\'''`);
  });

  it('survives a real POSIX shell byte for byte', () => {
    const nasty = [
      "it's broken",
      'INC-42: "prod" is down; $(rm -rf /) `id` \\ \n next line',
      "''''",
      '!!',
      '-n',
      'tab\there',
      'ünïcødé ✓',
    ];
    const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellJoin(nasty)}`]);
    expect(out.toString('utf8').split('\0').slice(0, -1)).toEqual(nasty);
  });
});
