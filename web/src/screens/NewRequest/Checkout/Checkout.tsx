// Before submitting: which access flow(s) the selection falls under, whether each grants
// automatically or waits for approvers (and who they are), what each flow refuses, and the
// exact `apono request` command(s) that make the same request(s) from a terminal.
import type { Plan } from '../../../api/types';
import { CommandBox } from '../../../components/CommandBox/CommandBox';
import { CopyButton } from '../../../components/CopyButton/CopyButton';
import { ErrorMessage } from '../../../components/ErrorMessage/ErrorMessage';
import { formatDuration } from '../../../lib/duration';
import type { Submission } from '../../../lib/plan';
import { names } from '../../MyRequests/RequestTable/RequestTable';
import './Checkout.css';

interface Props {
  plan: Plan | null;
  planning: boolean;
  planError: unknown;
  submissions: Submission[];
  /// How many requests submitting makes (a bundle is one, whatever its groups).
  requestCount: number;
  commands: string[];
  /// Why the request cannot be submitted yet; null when it can.
  blocker: string | null;
  submitting: boolean;
}

export function Checkout(props: Props) {
  const { plan, planning, planError, submissions, commands, blocker, submitting } = props;
  const n = props.requestCount;
  return (
    <section class="card checkout" aria-labelledby="checkout-title" data-testid="checkout">
      <h2 id="checkout-title">Review</h2>
      <div aria-live="polite" aria-busy={planning}>
        {planning && <p class="muted">Checking the access flows…</p>}
        <ErrorMessage error={planError} testId="plan-error" />
        {plan && !planning && (
          <>
            {n > 1 && (
              <p class="notice" data-testid="plan-split">
                This selection spans {plan.groups.length} access flow
                {plan.groups.length === 1 ? '' : 's'}: it is submitted as {n} requests, one per flow
                {n > plan.groups.length ? ' and set of permissions' : ''}.
              </p>
            )}
            {n === 1 && plan.groups.length > 1 && (
              <p class="notice" data-testid="plan-split">
                The bundle spans {plan.groups.length} access flows; it is submitted as one bundle
                request.
              </p>
            )}
            <ol class="checkout__groups" data-testid="plan-groups">
              {submissions.map((s, i) => (
                <li key={i} class="checkout__group" data-testid="plan-group">
                  <p class="checkout__flow">
                    <strong>{s.flow}</strong>{' '}
                    <span class={`approval-mode approval-mode--${s.automatic ? 'auto' : 'manual'}`}>
                      {s.automatic ? 'automatic' : 'needs approval'}
                    </span>
                  </p>
                  <dl class="facts">
                    <dt>Resources</dt>
                    <dd class="wrap-anywhere">{names(s.resources, 6)}</dd>
                    <dt>Permissions</dt>
                    <dd>{s.permissions.join(', ')}</dd>
                    {!s.automatic && (
                      <>
                        <dt>Approvers</dt>
                        <dd data-testid="plan-approvers">
                          {s.approvers.length ? s.approvers.join(', ') : 'none listed'}
                        </dd>
                      </>
                    )}
                    {s.maxDurationSeconds && (
                      <>
                        <dt>Longest</dt>
                        <dd>{formatDuration(s.maxDurationSeconds)}</dd>
                      </>
                    )}
                  </dl>
                </li>
              ))}
            </ol>
            {plan.refused.length > 0 && (
              <div class="notice notice--warn" data-testid="plan-refused">
                <p>No access flow lets you request these; they are left out:</p>
                <ul>
                  {plan.refused.map((x, i) => (
                    <li key={i}>
                      {x.resource} ({x.permission}): {x.reason}
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </>
        )}
      </div>

      {commands.length > 0 && (
        <>
          <div class="button-row checkout__cli-head">
            <h3>From a terminal</h3>
            <CopyButton text={commands.join('\n')} label="Copy as CLI" testId="copy-as-cli">
              Copy as CLI
            </CopyButton>
          </div>
          <CommandBox commands={commands} label="apono request command" testId="cli-commands" />
        </>
      )}

      {blocker && (
        <p class="field__hint" id="submit-blocker" data-testid="submit-blocker">
          {blocker}
        </p>
      )}
      <button
        type="submit"
        class="button button--primary checkout__submit"
        disabled={!!blocker || submitting}
        aria-busy={submitting}
        aria-describedby={blocker ? 'submit-blocker' : undefined}
        data-testid="submit-request"
      >
        {submitting ? 'Submitting…' : n > 1 ? `Submit ${n} requests` : 'Submit request'}
      </button>
    </section>
  );
}
