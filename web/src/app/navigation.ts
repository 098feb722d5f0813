// A tiny router on the History API: navigate() pushes a path and tells the app; Link turns
// plain clicks on links into navigate() while keeping real hrefs (open in a new tab, copy link).
import { useEffect, useState } from 'preact/hooks';

const CHANGE = 'apono:navigate';

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(CHANGE));
}

/// The current path and query, following back/forward and navigate().
export function useLocation(): { path: string; search: string } {
  const read = () => ({ path: location.pathname, search: location.search });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener('popstate', on);
    window.addEventListener(CHANGE, on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener(CHANGE, on);
    };
  }, []);
  return loc;
}

/// Whether a click should stay in the app (a plain left click without modifiers).
export function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;
}
