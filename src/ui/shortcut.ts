/** A key that focuses the search box from anywhere on the page. */
export interface Shortcut {
  /** Ctrl / ⌘ with the key (taken from a text field too), or the key alone. */
  mod: boolean;
  matches(e: KeyboardEvent): boolean;
  /** Its aria-keyshortcuts value. */
  aria: string;
}

/**
 * The `shortcut` attribute: one key ('/', 's'), or 'mod+' and a key for Ctrl+key (⌘+key on a
 * Mac: either is taken); null where it is absent or names no single key.
 */
export function parseShortcut(attr: string | null): Shortcut | null {
  const spec = attr?.trim().toLowerCase();
  if (!spec) return null;
  const mod = spec.startsWith('mod+');
  const key = mod ? spec.slice(4) : spec;
  if ([...key].length !== 1) return null;
  const shown = key.toUpperCase();
  return {
    mod,
    matches: (e) => e.key.toLowerCase() === key && !e.altKey && (mod ? e.ctrlKey || e.metaKey : !e.ctrlKey && !e.metaKey),
    aria: mod ? `Control+${shown} Meta+${shown}` : key,
  };
}

/** Whether a key press there types text (an input, a text area, an editable element). */
export function isEditable(target: EventTarget | undefined): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLInputElement && !['button', 'checkbox', 'radio', 'submit', 'reset'].includes(target.type))
  );
}
