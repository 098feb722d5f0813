import { describe, expect, it } from 'vitest';
import type { AccessDetails, UnitCredentials } from '../api/types';
import { hiddenCommands, kubeContext, psqlCommands, unitInstructions } from './instructions';

const pg: UnitCredentials = {
  integration: 'pg-local',
  type: 'postgresql',
  resource: 'appdb',
  permission: 'read_only',
  host: '127.0.0.1',
  port: 5432,
  database: 'appdb',
  username: 'apono_ar1_k3j9x2',
  password: "p'w$d",
  sslmode: 'prefer',
  connection_string: 'postgresql://apono_ar1_k3j9x2:pw@127.0.0.1:5432/appdb?sslmode=prefer',
};

function details(units: UnitCredentials[]): AccessDetails {
  return {
    request_id: 'AR-00001',
    status: 'ACTIVE',
    ends_at: '2026-11-22T16:00:00.000Z',
    events_after: 41,
    units,
  };
}

describe('psqlCommands', () => {
  it('prints both commands as the CLI does', () => {
    expect(psqlCommands(pg)).toEqual([
      "psql 'postgresql://apono_ar1_k3j9x2:pw@127.0.0.1:5432/appdb?sslmode=prefer'",
      `PGPASSWORD='p'\\''w$d' psql -h 127.0.0.1 -p 5432 -U apono_ar1_k3j9x2 -d appdb`,
    ]);
  });
  it('keeps a stricter sslmode', () => {
    expect(psqlCommands({ ...pg, sslmode: 'verify-full', connection_string: '' })).toEqual([
      `PGPASSWORD='p'\\''w$d' PGSSLMODE=verify-full psql -h 127.0.0.1 -p 5432 -U apono_ar1_k3j9x2 -d appdb`,
    ]);
  });
});

describe('unitInstructions', () => {
  it('lists the fields in the CLI order with the password marked secret', () => {
    const i = unitInstructions(details([pg]), pg);
    expect(i.title).toBe('AR-00001: appdb (read_only) on pg-local');
    expect(i.fields.map((f) => f.label)).toEqual([
      'Host',
      'Port',
      'Database',
      'Username',
      'Password',
      'SSL mode',
    ]);
    expect(i.fields.find((f) => f.label === 'Password')).toEqual({
      label: 'Password',
      value: "p'w$d",
      secret: true,
    });
    expect(i.blocks[0]!.commands).toEqual([
      'apono access connect AR-00001',
      'apono access connect AR-00001 --client psql',
    ]);
    expect(i.blocks[1]!.secret).toBe(true);
  });

  it('names the database when the grant holds several', () => {
    const other = { ...pg, resource: 'billing', database: 'billing' };
    const i = unitInstructions(details([pg, other]), other);
    expect(i.blocks[0]!.commands[0]).toBe('apono access connect AR-00001 --db billing');
  });

  it('gives SSH the connect and use commands', () => {
    const ssh: UnitCredentials = {
      integration: 'ssh-local',
      type: 'ssh',
      resource: 'web-1',
      permission: 'deploy',
      host: '10.0.0.7',
      port: 22,
      username: 'deploy',
      principal: 'apono-deploy',
    };
    const alone = unitInstructions(details([ssh]), ssh);
    expect(alone.fields.map((f) => f.label)).toEqual(['Host', 'Port', 'Username', 'Principal']);
    expect(alone.blocks.flatMap((b) => b.commands)).toEqual([
      'apono access connect AR-00001',
      'apono access connect AR-00001 --client ssh',
      'apono access use AR-00001',
    ]);
    const mixed = unitInstructions(details([pg, ssh]), ssh);
    expect(mixed.blocks[0]!.commands[0]).toBe(
      'apono access connect AR-00001 --host web-1 --login deploy',
    );
  });

  it('gives AWS the profile and the exports', () => {
    const aws: UnitCredentials = {
      integration: 'aws-prod',
      type: 'aws',
      resource: '123456789012',
      permission: 'read-only',
      role_arn: 'arn:aws:iam::123456789012:role/ReadOnly',
      region: 'us-east-1',
      access_key_id: 'ASIAX',
      secret_access_key: 'se/cr+et',
      session_token: 'tok==',
      expiration: '2026-11-22T16:00:00.000Z',
      identity: 'arn:aws:sts::123456789012:assumed-role/ReadOnly/apono-AR-00001-alice',
    };
    const i = unitInstructions(details([aws]), aws);
    expect(i.expiration).toBe('2026-11-22T16:00:00.000Z');
    expect(i.blocks[0]!.commands).toEqual([
      'apono access use AR-00001 --aws-profile apono',
      'aws sts get-caller-identity --profile apono',
    ]);
    expect(i.blocks[1]!.commands[0]).toBe(
      'export AWS_ACCESS_KEY_ID=ASIAX AWS_SECRET_ACCESS_KEY=se/cr+et AWS_SESSION_TOKEN=tok== AWS_REGION=us-east-1',
    );
    const two = unitInstructions(details([aws, { ...aws, resource: '2222' }]), aws);
    expect(two.blocks[0]!.commands[0]).toBe(
      'apono access use AR-00001 --resource 123456789012 --permission read-only --aws-profile apono',
    );
  });

  it('gives Kubernetes the kubeconfig and kubectl lines', () => {
    const k8s: UnitCredentials = {
      integration: 'k8s-prod',
      type: 'kubernetes',
      resource: 'team-a',
      permission: 'view',
      cluster_role: 'view',
      server: 'https://10.0.0.1:6443',
      namespace: 'team-a',
      username: 'system:serviceaccount:team-a:apono-ar12-x7k2p9',
      token: 'secret',
    };
    const d = details([k8s]);
    expect(unitInstructions(d, k8s).blocks[0]!.commands).toEqual([
      'apono access use AR-00001 --kubeconfig --switch-context',
      'kubectl --context apono-AR-00001 get pods -n team-a',
    ]);
    const two = details([k8s, { ...k8s, resource: 'team-b', namespace: 'team-b' }]);
    expect(kubeContext(two, k8s)).toBe('apono-AR-00001-team-a-view');
  });

  it('offers commands without secrets before the details are revealed', () => {
    expect(hiddenCommands('AR-00001')).toEqual([
      'apono access connect AR-00001',
      'apono access use AR-00001',
    ]);
  });
});
