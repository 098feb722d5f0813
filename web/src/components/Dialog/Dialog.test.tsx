// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { useState } from 'preact/hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActionDialog } from './ActionDialog';

function Harness({ action }: { action: () => Promise<void> }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  return (
    <div>
      <button onClick={() => setOpen(true)}>Reject</button>
      <ActionDialog
        open={open}
        title="Reject AR-00012"
        confirmLabel="Reject"
        danger
        testId="reject-dialog"
        canConfirm={reason.trim() !== ''}
        onConfirm={action}
        onClose={() => setOpen(false)}
      >
        <label>
          Reason
          <textarea
            data-autofocus
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
      </ActionDialog>
    </div>
  );
}

afterEach(cleanup);

describe('ActionDialog', () => {
  it('opens with focus in its first field, and returns focus on Cancel', async () => {
    render(<Harness action={async () => {}} />);
    const opener = screen.getByText('Reject', { selector: 'button' });
    opener.focus();
    fireEvent.click(opener);
    const reason = await screen.findByLabelText('Reason');
    expect(document.activeElement).toBe(reason);
    expect(screen.getByTestId('reject-dialog-confirm')).toHaveProperty('disabled', true);
    fireEvent.click(screen.getByTestId('reject-dialog-cancel'));
    await waitFor(() => expect(screen.queryByLabelText('Reason')).toBeNull());
    expect(document.activeElement).toBe(opener);
  });

  it('keeps the dialog open with the error when the action fails', async () => {
    const action = vi.fn(async () => {
      throw new Error('AR-00012 is ACTIVE, not PENDING');
    });
    render(<Harness action={action} />);
    fireEvent.click(screen.getByText('Reject', { selector: 'button' }));
    fireEvent.input(await screen.findByLabelText('Reason'), { target: { value: 'no ticket' } });
    fireEvent.submit(screen.getByTestId('reject-dialog-confirm').closest('form')!);
    expect((await screen.findByTestId('reject-dialog-error')).textContent).toBe(
      'AR-00012 is ACTIVE, not PENDING',
    );
    expect(action).toHaveBeenCalledOnce();
    expect(screen.getByLabelText('Reason')).toBeTruthy();
  });

  it('closes once the action succeeds', async () => {
    render(<Harness action={async () => {}} />);
    fireEvent.click(screen.getByText('Reject', { selector: 'button' }));
    fireEvent.input(await screen.findByLabelText('Reason'), { target: { value: 'no ticket' } });
    fireEvent.submit(screen.getByTestId('reject-dialog-confirm').closest('form')!);
    await waitFor(() => expect(screen.queryByLabelText('Reason')).toBeNull());
  });
});

describe('initial focus', () => {
  it('starts on a safe action and on Cancel for a dangerous one', async () => {
    const Two = () => {
      const [open, setOpen] = useState<'safe' | 'danger' | null>(null);
      return (
        <div>
          <button onClick={() => setOpen('safe')}>open safe</button>
          <button onClick={() => setOpen('danger')}>open danger</button>
          <ActionDialog
            open={open === 'safe'}
            title="Approve"
            confirmLabel="Approve"
            testId="safe"
            onConfirm={async () => {}}
            onClose={() => setOpen(null)}
          >
            <p>sure?</p>
          </ActionDialog>
          <ActionDialog
            open={open === 'danger'}
            title="Reset"
            confirmLabel="Reset"
            danger
            testId="danger"
            onConfirm={async () => {}}
            onClose={() => setOpen(null)}
          >
            <p>sure?</p>
          </ActionDialog>
        </div>
      );
    };
    render(<Two />);
    fireEvent.click(screen.getByText('open safe'));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('safe-confirm')));
    fireEvent.click(screen.getByTestId('safe-cancel'));
    fireEvent.click(screen.getByText('open danger'));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('danger-cancel')));
  });
});

describe('focus on close', () => {
  it('goes to returnFocus when the opener left the page with the decision', async () => {
    const Row = () => {
      const [decided, setDecided] = useState(false);
      const [open, setOpen] = useState(false);
      return (
        <div>
          {decided ? (
            <p tabIndex={-1} data-testid="results">
              Approved
            </p>
          ) : (
            <button onClick={() => setOpen(true)}>Approve AR-00012</button>
          )}
          <ActionDialog
            open={open}
            title="Approve AR-00012?"
            confirmLabel="Approve"
            testId="approve-dialog"
            returnFocus={() => screen.queryByTestId('results')}
            onConfirm={async () => setDecided(true)}
            onClose={() => setOpen(false)}
          >
            <p>sure?</p>
          </ActionDialog>
        </div>
      );
    };
    render(<Row />);
    const opener = screen.getByText('Approve AR-00012');
    opener.focus();
    fireEvent.click(opener);
    fireEvent.submit((await screen.findByTestId('approve-dialog-confirm')).closest('form')!);
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('results')));
  });
});

describe('Tab', () => {
  it('wraps around inside the open dialog, both ways', async () => {
    render(<Harness action={async () => {}} />);
    fireEvent.click(screen.getByText('Reject', { selector: 'button' }));
    const reason = await screen.findByLabelText('Reason');
    fireEvent.input(reason, { target: { value: 'no ticket' } });
    const confirm = screen.getByTestId('reject-dialog-confirm');
    await waitFor(() => expect(confirm).toHaveProperty('disabled', false));
    confirm.focus();
    fireEvent.keyDown(confirm, { key: 'Tab' });
    expect(document.activeElement).toBe(reason);
    fireEvent.keyDown(reason, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(confirm);
  });
});
