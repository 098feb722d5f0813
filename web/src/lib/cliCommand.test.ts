import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  connectCommand,
  describeCommand,
  requestAgainCommand,
  requestCommand,
  useCommand,
} from './cliCommand';

// The words a POSIX shell makes of a command line (after the program name).
function words(cmd: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -- ${cmd}; printf '%s\\0' "$@"`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

describe('requestCommand', () => {
  it('prints the flags in the order the CLI prints them', () => {
    expect(
      requestCommand({
        integration: 'pg-local',
        resourceType: 'database',
        resources: ['appdb', 'billing'],
        permissions: ['read_only'],
        justification: 'INC-42',
        duration: '1h30m',
      }),
    ).toBe(
      'apono request -i pg-local -t database -r appdb -r billing -p read_only -j INC-42 -d 1h30m',
    );
  });

  it('leaves out -t and -d when not given', () => {
    expect(
      requestCommand({
        integration: 'pg-local',
        resources: ['appdb'],
        permissions: ['read_only'],
        justification: 'x',
        duration: '  ',
      }),
    ).toBe('apono request -i pg-local -r appdb -p read_only -j x');
  });

  it('requests a bundle with --bundle alone', () => {
    expect(
      requestCommand({ bundle: 'all-databases-read-only', justification: 'audit', duration: '2' }),
    ).toBe('apono request --bundle all-databases-read-only -j audit -d 2');
  });

  it('quotes every value so a shell reads back exactly what was chosen', () => {
    const justification = `INC-42: "prod" can't answer; $(whoami) \`id\` & more\nline 2`;
    const cmd = requestCommand({
      integration: 'pg local',
      resourceType: 'database',
      resources: ["o'brien db", '*'],
      permissions: ['read only'],
      justification,
      duration: '1.5h',
    });
    expect(words(cmd.replace(/^apono /, ''))).toEqual([
      'request',
      '-i',
      'pg local',
      '-t',
      'database',
      '-r',
      "o'brien db",
      '-r',
      '*',
      '-p',
      'read only',
      '-j',
      justification,
      '-d',
      '1.5h',
    ]);
  });
});

describe('the other commands', () => {
  it('names the request the way the CLI takes it', () => {
    expect(connectCommand('AR-00012')).toBe('apono access connect AR-00012');
    expect(connectCommand('AR-00012', 'psql')).toBe('apono access connect AR-00012 --client psql');
    expect(useCommand('AR-00012')).toBe('apono access use AR-00012');
    expect(useCommand('AR-00012', ['--aws-profile', 'apono'])).toBe(
      'apono access use AR-00012 --aws-profile apono',
    );
    expect(describeCommand('AR-00012')).toBe('apono requests describe AR-00012');
    expect(requestAgainCommand('AR-00012', "it's back", '45m')).toBe(
      `apono requests again AR-00012 -j 'it'\\''s back' -d 45m`,
    );
  });
});
