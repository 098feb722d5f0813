// The page's polite live region: announce() tells screen readers about status changes and
// results (copied, approved) without moving focus.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<(m: string) => void>();

export function announce(message: string): void {
  for (const fn of listeners) fn(message);
}

export function LiveRegion() {
  const [message, setMessage] = useState('');
  useEffect(() => {
    // Clearing first makes a repeated message be read again.
    const fn = (m: string) => {
      setMessage('');
      setTimeout(() => setMessage(m), 50);
    };
    listeners.add(fn);
    return () => listeners.delete(fn);
  }, []);
  return (
    <div class="visually-hidden" role="status" aria-live="polite" data-testid="live-region">
      {message}
    </div>
  );
}
