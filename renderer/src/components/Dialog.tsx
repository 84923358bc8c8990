/**
 * A modal dialog: focus moves in on open and back to where it was on close, Tab and
 * Shift+Tab stay inside (focus trap), Escape cancels, the page behind is inert.
 * Hand-written rather than <dialog>.showModal(): Chromium's top layer would put our toast
 * region behind the backdrop, and the trap is a dozen lines.
 */
import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Dialog(props: { title: string; description?: ReactNode; onCancel: () => void; children: ReactNode; footer: ReactNode; onSubmit?: () => void; tone?: 'danger' }) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const descriptionId = useId();
  const onCancel = useRef(props.onCancel);
  onCancel.current = props.onCancel;

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const root = document.getElementById('app');
    root?.setAttribute('inert', '');
    const node = ref.current!;
    // The first field if there is one (where the person types), else the first button.
    const first = node.querySelector<HTMLElement>('input:not([type="checkbox"]):not([disabled]), select, textarea') ?? node.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      root?.removeAttribute('inert');
      previous?.focus?.();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape') {
      event.stopPropagation();
      onCancel.current();
      return;
    }
    if (event.key !== 'Tab') return;
    const items = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // Into <body>, outside #app: the page behind is made inert, and the dialog must not be part of it.
  return createPortal(
    <div className="backdrop">
      <div ref={ref} className={`dialog${props.tone === 'danger' ? ' dialog-danger' : ''}`} role="dialog" aria-modal="true" aria-labelledby={titleId} aria-describedby={props.description ? descriptionId : undefined} onKeyDown={onKeyDown}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            props.onSubmit?.();
          }}
        >
          <h2 id={titleId} className="dialog-title">
            {props.title}
          </h2>
          {props.description ? (
            <div id={descriptionId} className="dialog-description">
              {props.description}
            </div>
          ) : null}
          <div className="dialog-body">{props.children}</div>
          <div className="dialog-footer">{props.footer}</div>
        </form>
      </div>
    </div>,
    document.body,
  );
}
