/**
 * Small DOM helpers for the chat webview. Text always goes in as text nodes, never as HTML.
 */

type Child = Node | string | undefined | null | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) {
      node.append(child);
    }
  }
  return node;
}

export function button(label: string, onClick: () => void, title = label, cls = ''): HTMLButtonElement {
  const node = el('button', { type: 'button', title, class: cls }, label);
  node.addEventListener('click', onClick);
  return node;
}

/** A unified diff with added, removed and hunk-header lines marked for colour. */
export function diffBlock(diff: string): HTMLElement {
  const pre = el('pre', { class: 'diff-text' });
  for (const line of diff.replace(/\n$/, '').split('\n')) {
    const cls = line.startsWith('@@')
      ? 'hunk'
      : line.startsWith('+++') || line.startsWith('---')
        ? 'file'
        : line.startsWith('+')
          ? 'add'
          : line.startsWith('-')
            ? 'del'
            : 'ctx';
    pre.append(el('span', { class: cls }, line.replace(/\r$/, '') + '\n'));
  }
  return pre;
}

/** The last two segments of a file URI or path, for chips. */
export function shortPath(uri: string): string {
  const parts = decodeURIComponent(uri).split('/').filter(Boolean);
  return parts.slice(-2).join('/');
}
