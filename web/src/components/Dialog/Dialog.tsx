// A modal dialog on the native <dialog>: showModal() makes the rest of the page inert and traps
// focus; Escape closes it; focus goes to the element marked data-autofocus (else the first
// control) and back to what opened it on close. Its content exists only while it is open.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import './Dialog.css';

interface Props {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testId?: string;
  /// Id of the element that describes the dialog (its main sentence).
  describedBy?: string;
}

let counter = 0;

const FOCUSABLE =
  '[data-autofocus], input:not([disabled]), textarea:not([disabled]), select:not([disabled]), button:not([disabled]), a[href]';

export function Dialog({ open, title, onClose, children, testId, describedBy }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const titleId = useRef(`dialog-title-${++counter}`).current;

  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
      const first =
        d.querySelector<HTMLElement>('[data-autofocus]:not(button)') ??
        d.querySelector<HTMLElement>('[data-autofocus]') ??
        d.querySelector<HTMLElement>(FOCUSABLE);
      first?.focus();
    } else if (!open && d.open) {
      if (typeof d.close === 'function') d.close();
      else d.removeAttribute('open');
    }
  }, [open]);

  // Focus goes back to the opener whenever the dialog closes, however it closed.
  useLayoutEffect(() => {
    if (open) return;
    const o = opener.current as HTMLElement | null;
    opener.current = null;
    if (o && document.contains(o)) o.focus();
  }, [open]);

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <div class="dialog__body">
          <h2 id={titleId} class="dialog__title">
            {title}
          </h2>
          {children}
        </div>
      )}
    </dialog>
  );
}
