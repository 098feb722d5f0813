// An <a> that navigates inside the app on a plain click and behaves as a link otherwise
// (new tab, copy address).
import type { ComponentChildren } from 'preact';
import { isPlainClick, navigate } from '../../app/navigation';

interface Props {
  href: string;
  children: ComponentChildren;
  class?: string;
  title?: string;
  'aria-current'?: 'page' | undefined;
  'data-testid'?: string;
}

export function Link({ href, children, ...rest }: Props) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        if (e.defaultPrevented || !isPlainClick(e)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
