// A modal dialog on the native <dialog>: showModal() makes the rest of the page inert; Tab and
// Shift+Tab wrap around inside it (past its last control Chromium sends focus out of the page,
// leaving the document's body focused); Escape closes it. Focus goes to the element marked
// data-autofocus (else the first control), and on close back to what opened it, or, when that
// is gone or disabled (the row of a decided request), to `returnFocus` or the screen's heading
// rather than to the start of the page. Its content exists only while it is open.
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
  /// Where focus goes on close when the opener is gone or disabled; default: the main h1.
  returnFocus?: () => HTMLElement | null;
}

let counter = 0;

// What Tab stops on inside the dialog.
const TABBABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]';

/// Keeps Tab inside `dialog`: from its last stop to its first, and Shift+Tab the other way.
function wrapTab(dialog: HTMLElement, e: KeyboardEvent) {
  if (e.key !== 'Tab' || e.altKey || e.ctrlKey || e.metaKey) return;
  const stops = [...dialog.querySelectorAll<HTMLElement>(TABBABLE)].filter(
    (el) => el.tabIndex >= 0,
  );
  const first = stops[0];
  const last = stops[stops.length - 1];
  if (!first || !last) return;
  const at = document.activeElement;
  if (e.shiftKey ? at === first || at === dialog : at === last) {
    e.preventDefault();
    (e.shiftKey ? last : first).focus();
  }
}

const FOCUSABLE =
  '[data-autofocus], input:not([disabled]), textarea:not([disabled]), select:not([disabled]), button:not([disabled]), a[href]';

export function Dialog(props: Props) {
  const { open, title, onClose, children, testId, describedBy } = props;
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
    if (!o) return;
    if (document.contains(o) && !o.matches(':disabled')) o.focus();
    else (props.returnFocus?.() ?? document.querySelector<HTMLElement>('main h1'))?.focus();
  }, [open]);

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      data-testid={testId}
      onKeyDown={(e) => ref.current && wrapTab(ref.current, e)}
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
