// A dialog that confirms one action: a sentence, optional fields (a reason, a justification),
// Cancel and the action's button. The action runs on submit; its error shows inside the dialog
// and the dialog stays open; on success it closes. Focus starts on the first field marked
// data-autofocus, else on the action's button when it is safe (Approve), else on Cancel.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorMessage } from '../ErrorMessage/ErrorMessage';
import { Dialog } from './Dialog';

interface Props {
  open: boolean;
  title: string;
  /// The action's button text ("Revoke AR-00012").
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  children: ComponentChildren;
  testId: string;
  /// False while the fields are not filled in.
  canConfirm?: boolean;
  /// Where focus goes on close when the opener is gone (see Dialog).
  returnFocus?: () => HTMLElement | null;
}

let n = 0;

export function ActionDialog(props: Props) {
  const { open, title, confirmLabel, danger, onConfirm, onClose, children, testId } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [descId] = useState(() => `action-desc-${++n}`);
  const close = () => {
    if (busy) return;
    setError(null);
    onClose();
  };
  return (
    <Dialog
      open={open}
      title={title}
      onClose={close}
      testId={testId}
      describedBy={descId}
      returnFocus={props.returnFocus}
    >
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy || props.canConfirm === false) return;
          setBusy(true);
          setError(null);
          try {
            await onConfirm();
            setBusy(false);
            onClose();
          } catch (err) {
            setBusy(false);
            setError(err);
          }
        }}
      >
        <div id={descId}>{children}</div>
        <ErrorMessage error={error} testId={`${testId}-error`} />
        <div class="dialog__actions">
          <button type="button" class="button" onClick={close} data-testid={`${testId}-cancel`}>
            Cancel
          </button>
          <button
            type="submit"
            class={`button ${danger ? 'button--danger' : 'button--primary'}`}
            disabled={busy || props.canConfirm === false}
            aria-busy={busy}
            data-testid={`${testId}-confirm`}
            // A safe action starts focused on its button; a dangerous one on Cancel (or a field).
            data-autofocus={danger ? undefined : true}
          >
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
