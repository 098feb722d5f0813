// The `apono ...` commands the portal offers to copy, word for word as the CLI prints them
// (cli/request_flow.cpp repeat_command, cli/cloud_access.cpp, cli/instructions.cpp), so a
// request made in the browser can be repeated in a terminal and the other way round.
import { shellQuote } from './shell';

/// What `apono request` takes: a bundle, or an integration with resources and permissions.
export interface RequestSpec {
  bundle?: string;
  integration?: string;
  resourceType?: string;
  resources?: readonly string[];
  permissions?: readonly string[];
  justification: string;
  /// As typed (`1h30m`, `0.75`); empty for the flow's default.
  duration?: string;
}

/// `apono request -i pg-local -t database -r appdb -p read_only -j 'INC 42' -d 1h30m`: flags in
/// the order the CLI prints them, one -r/-p per value, every value quoted for a POSIX shell.
export function requestCommand(spec: RequestSpec): string {
  const words = ['apono request'];
  const add = (flag: string, value: string) => words.push(`${flag} ${shellQuote(value)}`);
  if (spec.bundle) {
    add('--bundle', spec.bundle);
  } else {
    add('-i', spec.integration ?? '');
    if (spec.resourceType) add('-t', spec.resourceType);
    for (const r of spec.resources ?? []) add('-r', r);
    for (const p of spec.permissions ?? []) add('-p', p);
  }
  add('-j', spec.justification);
  const d = spec.duration?.trim();
  if (d) add('-d', d);
  return words.join(' ');
}

/// `apono requests again AR-00012 -j '...' [-d ...]`.
export function requestAgainCommand(id: string, justification: string, duration?: string): string {
  let cmd = `apono requests again ${shellQuote(id)} -j ${shellQuote(justification)}`;
  const d = duration?.trim();
  if (d) cmd += ` -d ${shellQuote(d)}`;
  return cmd;
}

/// `apono access connect AR-00012`: the local proxy and a session through it.
export function connectCommand(id: string, client?: 'psql' | 'ssh'): string {
  return `apono access connect ${shellQuote(id)}${client ? ` --client ${client}` : ''}`;
}

/// `apono access use AR-00012`: the instructions in a terminal.
export function useCommand(id: string, extra: readonly string[] = []): string {
  return ['apono access use', shellQuote(id), ...extra.map(shellQuote)].join(' ');
}

/// `apono requests describe AR-00012`.
export function describeCommand(id: string): string {
  return `apono requests describe ${shellQuote(id)}`;
}
