// The box a wide table scrolls in. While its table is wider than the box (a phone, long names)
// the box is a named region in the Tab order, so a keyboard user can reach it and scroll it
// with the arrow keys (WCAG 2.1.1; axe's scrollable-region-focusable); while everything fits it
// is a plain box and no extra Tab stop.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

interface Props {
  /// What the table is (its caption): the region's name when it scrolls.
  label: string;
  children: ComponentChildren;
}

export function TableWrap({ label, children }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrolls, setScrolls] = useState(false);
  useLayoutEffect(() => {
    const box = ref.current;
    if (!box) return;
    const measure = () => setScrolls(box.scrollWidth > box.clientWidth);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    // The box changes with the window; the table with its rows and their text.
    const o = new ResizeObserver(measure);
    o.observe(box);
    if (box.firstElementChild) o.observe(box.firstElementChild);
    return () => o.disconnect();
  }, []);
  return (
    <div
      ref={ref}
      class="table-wrap"
      tabIndex={scrolls ? 0 : undefined}
      role={scrolls ? 'region' : undefined}
      aria-label={scrolls ? `${label} (scrolls sideways)` : undefined}
    >
      {children}
    </div>
  );
}
