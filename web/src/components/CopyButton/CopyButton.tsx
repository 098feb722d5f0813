// Copies a value or a command; says "Copied" on the button and to screen readers.
import { useEffect, useState } from 'preact/hooks';
import { announce } from '../LiveRegion/LiveRegion';
import { copyText } from './copy';

interface Props {
  text: string;
  /// The accessible name, e.g. "Copy password".
  label: string;
  testId?: string;
  class?: string;
  children?: string;
}

export function CopyButton({ text, label, testId, class: cls, children }: Props) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      class={`button button--small ${cls ?? ''}`}
      aria-label={label}
      data-testid={testId}
      onClick={async () => {
        try {
          await copyText(text);
          setState('copied');
          announce('Copied to the clipboard');
        } catch {
          setState('failed');
          announce('Could not copy: select the text and copy it by hand');
        }
      }}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : (children ?? 'Copy')}
    </button>
  );
}
