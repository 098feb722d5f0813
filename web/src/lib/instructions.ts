// Access details as ready-to-paste instructions, the same fields and commands that
// `apono access use` prints (cli/instructions.cpp, cli/cloud_access.cpp, cli/cmd_access.cpp),
// so a person reading the portal and one reading the terminal copy the same lines.
import type { AccessDetails, UnitCredentials } from '../api/types';
import { shellQuote } from './shell';

/// The CLI's closing advice, for the browser.
export const SECRETS_ADVICE = 'Hide the details once you have copied them: they are secrets.';

/// The labelled fields of a unit in display order: label, key (the CLI's unit_fields).
export const UNIT_FIELDS: ReadonlyArray<readonly [string, keyof UnitCredentials]> = [
  ['Host', 'host'],
  ['Port', 'port'],
  ['Database', 'database'],
  ['Username', 'username'],
  ['Password', 'password'],
  ['SSL mode', 'sslmode'],
  ['Principal', 'principal'],
  ['Role', 'role_arn'],
  ['ClusterRole', 'cluster_role'],
  ['Region', 'region'],
  ['API server', 'server'],
  ['Namespace', 'namespace'],
  ['Identity', 'identity'],
  ['Access key', 'access_key_id'],
];

/// Fields whose value is a secret: shown masked until the person asks to see it.
export const SECRET_FIELDS: ReadonlySet<keyof UnitCredentials> = new Set([
  'password',
  'secret_access_key',
  'session_token',
  'token',
]);

export interface Field {
  label: string;
  value: string;
  secret: boolean;
}

/// A heading and the commands under it, one per line.
export interface CommandBlock {
  heading: string;
  commands: string[];
  /// True when a command holds a secret (a password, a key).
  secret: boolean;
}

export interface UnitInstructions {
  /// `AR-00012: appdb (read_only) on pg-local` (the CLI's unit_title).
  title: string;
  fields: Field[];
  blocks: CommandBlock[];
  /// When short-lived credentials expire before the grant (AWS, Kubernetes).
  expiration?: string;
}

function text(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

export function unitTitle(d: Pick<AccessDetails, 'request_id'>, u: UnitCredentials): string {
  return `${d.request_id}: ${u.resource} (${u.permission}) on ${u.integration}`;
}

/// The two psql commands (cli/instructions.cpp psql_commands).
export function psqlCommands(u: UnitCredentials): string[] {
  const cmds: string[] = [];
  if (u.connection_string) cmds.push(`psql ${shellQuote(u.connection_string)}`);
  let env = `PGPASSWORD=${shellQuote(text(u.password))}`;
  if (u.sslmode && u.sslmode !== 'prefer') env += ` PGSSLMODE=${shellQuote(u.sslmode)}`;
  cmds.push(
    `${env} psql -h ${shellQuote(text(u.host))} -p ${shellQuote(text(u.port))} -U ${shellQuote(
      text(u.username),
    )} -d ${shellQuote(text(u.database))}`,
  );
  return cmds;
}

function ofType(d: AccessDetails, type: string): UnitCredentials[] {
  return d.units.filter((x) => x.type === type);
}

/// `--resource R --permission P` when the grant holds several units of this kind.
function which(d: AccessDetails, u: UnitCredentials): string {
  if (ofType(d, u.type).length < 2) return '';
  return ` --resource ${shellQuote(u.resource)} --permission ${shellQuote(u.permission)}`;
}

/// The kubeconfig context `apono access use --kubeconfig` writes.
export function kubeContext(d: AccessDetails, u: UnitCredentials): string {
  let name = `apono-${d.request_id}`;
  if (ofType(d, 'kubernetes').length > 1) name += `-${u.resource}-${u.permission}`;
  return name;
}

/// Everything to show for one unit of the access details.
export function unitInstructions(d: AccessDetails, u: UnitCredentials): UnitInstructions {
  const id = shellQuote(d.request_id);
  const fields: Field[] = [];
  for (const [label, key] of UNIT_FIELDS) {
    const value = text(u[key]);
    if (value) fields.push({ label, value, secret: SECRET_FIELDS.has(key) });
  }
  const blocks: CommandBlock[] = [];
  const out: UnitInstructions = { title: unitTitle(d, u), fields, blocks };

  if (u.type === 'postgresql') {
    const db = ofType(d, 'postgresql').length > 1 ? ` --db ${shellQuote(text(u.database))}` : '';
    blocks.push({
      heading: 'Connect through the local proxy (no password to paste):',
      commands: [
        `apono access connect ${id}${db}`,
        `apono access connect ${id}${db} --client psql`,
      ],
      secret: false,
    });
    blocks.push({ heading: 'Connect with psql:', commands: psqlCommands(u), secret: true });
  } else if (u.type === 'ssh') {
    const several = ofType(d, 'ssh').length > 1 || d.units.some((x) => x.type === 'postgresql');
    const pick = several
      ? ` --host ${shellQuote(u.resource)} --login ${shellQuote(u.permission)}`
      : '';
    blocks.push({
      heading: 'Connect with ssh (a key and certificate are made for the session):',
      commands: [
        `apono access connect ${id}${pick}`,
        `apono access connect ${id}${pick} --client ssh`,
      ],
      secret: false,
    });
    blocks.push({
      heading: 'Or write the key and certificate and print the ssh command:',
      commands: [`apono access use ${id}`],
      secret: false,
    });
  } else if (u.type === 'aws') {
    if (u.expiration) out.expiration = u.expiration;
    blocks.push({
      heading:
        'Use it with the aws CLI (credential_process fetches credentials while the grant lasts):',
      commands: [
        `apono access use ${id}${which(d, u)} --aws-profile apono`,
        'aws sts get-caller-identity --profile apono',
      ],
      secret: false,
    });
    let exp =
      `export AWS_ACCESS_KEY_ID=${shellQuote(text(u.access_key_id))}` +
      ` AWS_SECRET_ACCESS_KEY=${shellQuote(text(u.secret_access_key))}` +
      ` AWS_SESSION_TOKEN=${shellQuote(text(u.session_token))}`;
    if (u.region) exp += ` AWS_REGION=${shellQuote(u.region)}`;
    blocks.push({ heading: 'Or in this shell only:', commands: [exp], secret: true });
  } else if (u.type === 'kubernetes') {
    if (u.expiration) out.expiration = u.expiration;
    blocks.push({
      heading: 'Use it with kubectl (the exec plugin fetches tokens while the grant lasts):',
      commands: [
        `apono access use ${id}${which(d, u)} --kubeconfig --switch-context`,
        `kubectl --context ${shellQuote(kubeContext(d, u))} get pods -n ${shellQuote(
          text(u.namespace),
        )}`,
      ],
      secret: false,
    });
  }
  return out;
}

/// The commands that need no secret, for a grant whose details are still hidden.
export function hiddenCommands(id: string): string[] {
  return [`apono access connect ${shellQuote(id)}`, `apono access use ${shellQuote(id)}`];
}
