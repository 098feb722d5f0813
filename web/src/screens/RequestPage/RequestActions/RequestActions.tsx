// What can be done with a request from its page, each behind a dialog that says what will
// happen: Revoke (requester, approver, admin), Reset credentials (requester, ACTIVE: every
// credential of the request changes), Request again (asks for a new justification), and for
// approvers of a PENDING request, Approve and Reject (with a required reason).
import { useState } from 'preact/hooks';
import type { AccessDetails, AccessRequest } from '../../../api/types';
import { navigate } from '../../../app/navigation';
import { useSession } from '../../../app/session';
import { api } from '../../../app/services';
import { ActionDialog } from '../../../components/Dialog/ActionDialog';
import { CommandBox } from '../../../components/CommandBox/CommandBox';
import { announce } from '../../../components/LiveRegion/LiveRegion';
import { durationError, formatDuration } from '../../../lib/duration';
import { requestAgainCommand } from '../../../lib/cliCommand';
import { requesterActions } from '../../../lib/status';

interface Props {
  r: AccessRequest;
  onChanged: (r: AccessRequest) => void;
  onNewCredentials: (d: AccessDetails) => void;
}

type Open = 'revoke' | 'reset' | 'again' | 'approve' | 'reject' | null;

const path = (id: string, action: string) => `/access-requests/${encodeURIComponent(id)}/${action}`;

export function RequestActions({ r, onChanged, onNewCredentials }: Props) {
  const { session } = useSession();
  const [open, setOpen] = useState<Open>(null);
  const [reason, setReason] = useState('');
  const [justification, setJustification] = useState('');
  const [duration, setDuration] = useState('');
  const mine = r.requester === session.user;
  const allowed = requesterActions(r);
  const canRevoke = allowed.revoke && (mine || session.admin || session.approver);
  const canDecide = r.status === 'PENDING' && !mine && (session.approver || session.admin);
  const show = (o: Open) => {
    setReason('');
    if (o === 'again') {
      setJustification(r.justification);
      setDuration(r.duration_seconds > 0 ? formatDuration(r.duration_seconds) : '');
    }
    setOpen(o);
  };
  const close = () => setOpen(null);
  const durError = durationError(duration);

  if (!canRevoke && !canDecide && !(mine && (allowed.resetCredentials || allowed.requestAgain)))
    return null;

  return (
    <div class="button-row request-actions" role="group" aria-label="Actions">
      {canDecide && (
        <>
          <button
            type="button"
            class="button button--primary"
            onClick={() => show('approve')}
            data-testid="approve"
          >
            Approve
          </button>
          <button type="button" class="button" onClick={() => show('reject')} data-testid="reject">
            Reject
          </button>
        </>
      )}
      {mine && allowed.resetCredentials && (
        <button
          type="button"
          class="button"
          onClick={() => show('reset')}
          data-testid="reset-credentials"
        >
          Reset credentials
        </button>
      )}
      {mine && allowed.requestAgain && (
        <button
          type="button"
          class="button"
          onClick={() => show('again')}
          data-testid="request-again"
        >
          Request again
        </button>
      )}
      {canRevoke && (
        <button
          type="button"
          class="button button--danger"
          onClick={() => show('revoke')}
          data-testid="revoke"
        >
          Revoke
        </button>
      )}

      <ActionDialog
        open={open === 'revoke'}
        title={`Revoke ${r.id}?`}
        confirmLabel={`Revoke ${r.id}`}
        danger
        testId="revoke-dialog"
        onClose={close}
        onConfirm={async () => {
          const body = reason.trim() ? { reason: reason.trim() } : {};
          const next = await api.post<AccessRequest>(path(r.id, 'revoke'), body);
          onChanged(next);
          announce(`${next.id} is ${next.status}`);
        }}
      >
        <p>
          {r.status === 'PENDING'
            ? 'The request is withdrawn; no one can approve it any more.'
            : 'Access ends now: the credentials are removed at the target and every open session is cut.'}
        </p>
        <div class="field">
          <label class="field__label" for="revoke-reason">
            Reason <span class="muted">(optional, for the audit log)</span>
          </label>
          <input
            id="revoke-reason"
            data-autofocus
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
            data-testid="revoke-reason"
          />
        </div>
      </ActionDialog>

      <ActionDialog
        open={open === 'reset'}
        title={`Reset the credentials of ${r.id}?`}
        confirmLabel="Reset credentials"
        danger
        testId="reset-dialog"
        onClose={close}
        onConfirm={async () => {
          const d = await api.post<AccessDetails>(path(r.id, 'reset-credentials'));
          onNewCredentials(d);
          announce(`New credentials for ${r.id}; the old password no longer works.`);
        }}
      >
        <p>
          New credentials are made at the target for{' '}
          {r.units.length > 1 ? `all ${r.units.length} units` : 'the unit'} of {r.id}
          {r.bundle ? ` (every resource of the bundle ${r.bundle})` : ''}:{' '}
          <strong>all of this request's credentials change</strong> and the old password no longer
          works. The new ones are shown here once made.
        </p>
      </ActionDialog>

      <ActionDialog
        open={open === 'again'}
        title={`Request ${r.id} again`}
        confirmLabel="Request again"
        testId="again-dialog"
        canConfirm={justification.trim() !== '' && !durError}
        onClose={close}
        onConfirm={async () => {
          const body: { justification: string; duration?: string } = {
            justification: justification.trim(),
          };
          if (duration.trim()) body.duration = duration.trim();
          const next = await api.post<AccessRequest>(path(r.id, 'request-again'), body);
          announce(`${next.id} is ${next.status}`);
          navigate(`/requests/${next.id}`);
        }}
      >
        <p>A new request for the same resources and permissions, with its own approval.</p>
        <div class="field">
          <label class="field__label" for="again-justification">
            Justification
          </label>
          <textarea
            id="again-justification"
            data-autofocus
            required
            value={justification}
            onInput={(e) => setJustification(e.currentTarget.value)}
            data-testid="again-justification"
          />
        </div>
        <div class="field">
          <label class="field__label" for="again-duration">
            Duration <span class="muted">(hours such as 1.5, or 90m, 1h30m)</span>
          </label>
          <input
            id="again-duration"
            value={duration}
            aria-invalid={durError ? 'true' : undefined}
            aria-describedby={durError ? 'again-duration-error' : undefined}
            onInput={(e) => setDuration(e.currentTarget.value)}
            data-testid="again-duration"
          />
          {durError && (
            <span id="again-duration-error" class="field__error">
              {durError}
            </span>
          )}
        </div>
        {justification.trim() && (
          <>
            <p class="field__hint">The same from a terminal:</p>
            <CommandBox
              commands={[requestAgainCommand(r.id, justification.trim(), duration)]}
              label="CLI command"
              testId="again-cli"
            />
          </>
        )}
      </ActionDialog>

      <ActionDialog
        open={open === 'approve'}
        title={`Approve ${r.id}?`}
        confirmLabel={`Approve ${r.id}`}
        testId="approve-dialog"
        onClose={close}
        onConfirm={async () => {
          const next = await api.post<AccessRequest>(path(r.id, 'approve'));
          onChanged(next);
          announce(`Approved ${next.id}; it is now ${next.status}`);
        }}
      >
        <p>
          {r.requester} gets {r.permissions.join(', ')} on {r.resources.join(', ')} for{' '}
          {formatDuration(r.duration_seconds)} once granted.
        </p>
      </ActionDialog>

      <ActionDialog
        open={open === 'reject'}
        title={`Reject ${r.id}?`}
        confirmLabel={`Reject ${r.id}`}
        danger
        testId="reject-dialog"
        canConfirm={reason.trim() !== ''}
        onClose={close}
        onConfirm={async () => {
          const next = await api.post<AccessRequest>(path(r.id, 'reject'), {
            reason: reason.trim(),
          });
          onChanged(next);
          announce(`Rejected ${next.id}; it is now ${next.status}`);
        }}
      >
        <div class="field">
          <label class="field__label" for="reject-reason">
            Reason <span class="muted">(required; {r.requester} sees it)</span>
          </label>
          <textarea
            id="reject-reason"
            data-autofocus
            required
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
            data-testid="reject-reason"
          />
        </div>
      </ActionDialog>
    </div>
  );
}
