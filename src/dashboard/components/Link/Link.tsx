import type { ComponentChildren } from 'preact';
import { href, navigate } from '../../hooks/useRoute.ts';

/** An in-app link: a real href (open in a new tab works), navigated without a reload. */
export function Link({ to, children, class: className, ...rest }: { to: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined; title?: string }) {
  return (
    <a
      href={href(to)}
      class={className}
      {...rest}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
