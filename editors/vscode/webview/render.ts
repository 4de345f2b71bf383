/**
 * How each chat item and each pending approval is drawn in the webview. Text from the model
 * or the server goes in as text nodes, or as HTML from the safe markdown renderer only.
 */

import { renderMarkdown } from '../src/chat/markdown';
import type { FromWebview, ShownApproval, ShownItem } from '../src/chat/messages';
import type { FileChange, InputPart, Item, LspDiagnostic } from '../src/chat/protocol';
import { formatCompaction } from '../src/chat/usage';
import { button, diffBlock, el, shortPath } from './dom';

export interface Context {
  post(message: FromWebview): void;
  /** Keys of the <details> the user opened, kept across redraws. */
  openDetails: Set<string>;
  item(id: string): Item | undefined;
  /** Finished turns that changed files: their change cards get an "Undo turn" button. */
  undoable: Set<string>;
}

/** A <details> that remembers being opened across redraws. */
function details(ctx: Context, key: string, cls: string, summary: (Node | string)[], ...body: (Node | string)[]): HTMLDetailsElement {
  const node = el('details', { class: cls }, el('summary', {}, ...summary), ...body) as HTMLDetailsElement;
  node.open = ctx.openDetails.has(key);
  node.addEventListener('toggle', () => (node.open ? ctx.openDetails.add(key) : ctx.openDetails.delete(key)));
  return node;
}

function markdown(text: string, cls = 'markdown', ctx?: Context): HTMLElement {
  const node = el('div', { class: cls });
  node.innerHTML = renderMarkdown(text);
  if (ctx) {
    for (const pre of Array.from(node.querySelectorAll('pre'))) {
      const code = pre.textContent ?? '';
      const bar = el(
        'div',
        { class: 'code-actions' },
        button('Copy', () => ctx.post({ type: 'copy', text: code }), 'Copy the code', 'code-copy'),
        button('Insert', () => ctx.post({ type: 'insert', text: code }), 'Insert the code at the cursor in the editor', 'code-insert'),
      );
      const wrap = el('div', { class: 'code-block' });
      pre.replaceWith(wrap);
      wrap.append(bar, pre);
    }
  }
  return node;
}

function badge(status: Item['status']): HTMLElement | string {
  const label = { inProgress: 'running', completed: '', failed: 'failed', declined: 'declined', interrupted: 'interrupted' }[status];
  return label ? el('span', { class: `badge ${status}` }, label) : '';
}

function partChip(part: InputPart): HTMLElement | string {
  if (part.type === 'selection') {
    const { start, end } = part.range;
    return el('span', { class: 'chip' }, `Selection ${shortPath(part.uri)}:${start.line + 1}-${end.line + 1}`);
  }
  if (part.type === 'diagnostic') {
    const diagnostic = part.diagnostic as unknown as LspDiagnostic;
    return el('span', { class: 'chip' }, `Fix: ${diagnostic.message} (${shortPath(part.uri)}:${diagnostic.range.start.line + 1})`);
  }
  return '';
}

function changeRow(ctx: Context, itemId: string, change: FileChange, index: number): HTMLElement {
  const verb = { add: 'Create', update: 'Edit', delete: 'Delete' }[change.kind];
  return el(
    'div',
    { class: 'change-row' },
    el('span', { class: 'kind' }, verb),
    button(change.path, () => ctx.post({ type: 'openFile', path: change.path }), `Open ${change.path}`, 'link'),
    button('View diff', () => ctx.post({ type: 'viewDiff', itemId, index }), `Compare ${change.path} with the proposed text`),
    details(ctx, `${itemId}/diff/${index}`, 'diff', ['Diff'], diffBlock(change.diff)),
  );
}

/** "Approved in Neovim 0.11.4": who answered the item's approval, when not this window. */
function answeredBy(chat: ShownItem): HTMLElement | string {
  return chat.answeredBy ? el('span', { class: 'answered-by' }, chat.answeredBy) : '';
}

export function renderItem(ctx: Context, chat: ShownItem): HTMLElement {
  const item = chat.item;
  const key = item.id;
  switch (item.type) {
    case 'userMessage':
      return el(
        'div',
        { class: 'item user' },
        el('div', { class: 'text' }, item.content.map((p) => (p.type === 'text' ? p.text : '')).join('\n')),
        ...item.content.map(partChip),
      );
    case 'agentMessage':
      return markdown(item.text, `item agent markdown ${item.status === 'inProgress' ? 'streaming' : ''}`, ctx);
    case 'reasoning':
      return details(ctx, key, 'item reasoning', [item.status === 'inProgress' ? 'Thinking…' : 'Thought'], markdown(item.text));
    case 'toolCall': {
      const target = String(item.input.path ?? item.input.pattern ?? item.input.description ?? '');
      return details(
        ctx,
        key,
        'item tool',
        [el('span', { class: 'tool-name' }, item.tool), ' ', el('code', {}, target), badge(item.status)],
        el('pre', { class: 'input' }, JSON.stringify(item.input, null, 2)),
        item.output ? el('pre', { class: 'output' }, item.output) : '',
      );
    }
    case 'commandExecution': {
      const exit = item.exitCode === undefined || item.exitCode === null ? '' : `exit ${item.exitCode}`;
      return details(
        ctx,
        key,
        'item command',
        [el('code', {}, `$ ${item.command}`), ' ', el('span', { class: 'exit' }, exit), badge(item.status), answeredBy(chat)],
        el('pre', { class: 'output' }, item.output ?? ''),
      );
    }
    case 'fileChange': {
      const outcome = item.outcome ?? (item.status === 'inProgress' ? 'proposed' : item.status);
      return el(
        'div',
        { class: `item change ${outcome}` },
        el('div', { class: 'change-head' }, 'File change ', el('span', { class: `badge ${outcome}` }, outcome), answeredBy(chat)),
        ...item.changes.map((change, index) => changeRow(ctx, item.id, change, index)),
        chat.turnId && outcome === 'applied' && ctx.undoable.has(chat.turnId)
          ? button('Undo turn', () => ctx.post({ type: 'undoTurn', turnId: chat.turnId! }), 'Revert the file changes of this turn (lines you changed since are left alone)', 'undo-turn')
          : '',
      );
    }
    case 'todoList': {
      const done = item.todos.filter((t) => t.status === 'completed').length;
      return el('div', { class: 'item note' }, `Plan updated: ${done}/${item.todos.length} done`);
    }
    case 'subagent':
      return subagentNode(ctx, chat, item);
    case 'compaction': {
      if (item.status === 'inProgress') {
        return el('div', { class: 'item compaction note' }, 'Compacting context…');
      }
      const title = item.status === 'completed' ? 'Context compacted' : 'Compaction failed';
      const figures = chat.compacted ? formatCompaction(chat.compacted.tokensBefore, chat.compacted.tokensAfter) : '';
      return details(
        ctx,
        key,
        'item compaction',
        [el('span', { class: 'compaction-title' }, title), figures ? el('span', { class: 'figures' }, ` (${figures})`) : '', badge(item.status)],
        markdown(item.summary || '(no summary)'),
      );
    }
  }
}

/**
 * A subagent as a tree node under its parent's item: its description, status and live
 * progress line, a Cancel button while it runs, its report when done, and its own transcript
 * (drawn with the same renderer, nested) in a collapsed section; opening that section asks the
 * extension for the child's events when it lacks them.
 */
function subagentNode(ctx: Context, chat: ShownItem, item: Extract<Item, { type: 'subagent' }>): HTMLElement {
  const running = item.status === 'inProgress';
  const child = chat.child;
  const transcript = details(
    ctx,
    `${item.id}/transcript`,
    'subagent-transcript',
    ['Transcript'],
    child?.loaded
      ? el('div', { class: 'subagent-items' }, ...(child.items.length ? child.items.map((c) => renderItem(ctx, c)) : [el('p', { class: 'empty' }, 'Nothing yet.')]))
      : el('p', { class: 'loading' }, 'Loading the transcript…'),
  );
  const expand = () => transcript.open && !child?.loaded && ctx.post({ type: 'expandSubagent', childThreadId: item.childThreadId });
  transcript.addEventListener('toggle', expand);
  queueMicrotask(expand); // opened before a redraw: still wants its events
  return el(
    'div',
    { class: `item subagent ${item.status}`, 'data-child-thread-id': item.childThreadId },
    el(
      'div',
      { class: 'subagent-head' },
      el('span', { class: 'subagent-mark' }, running ? '◐ ' : '● '),
      'Subagent ',
      el('strong', { class: 'subagent-description' }, item.description),
      ' ',
      badge(item.status),
      running
        ? button('Cancel', () => ctx.post({ type: 'cancelSubagent', childThreadId: item.childThreadId }), `Stop the subagent "${item.description}" (the rest of the turn goes on)`, 'subagent-cancel')
        : '',
    ),
    running && chat.progress ? el('div', { class: 'subagent-progress' }, chat.progress) : '',
    !running && item.output ? markdown(item.output, 'subagent-output markdown') : '',
    transcript,
  );
}

export function renderApproval(ctx: Context, approval: ShownApproval): HTMLElement {
  const reason = el('input', { type: 'text', class: 'reason', placeholder: 'Why? (optional; the agent reads this)', 'aria-label': 'Reason' });
  const rejectForm = el(
    'div',
    { class: 'reject-form', hidden: '' },
    reason,
    button('Send rejection', () => ctx.post({ type: 'reject', approvalId: approval.id, message: reason.value.trim() })),
  );
  reason.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      ctx.post({ type: 'reject', approvalId: approval.id, message: reason.value.trim() });
    }
  });
  const item = ctx.item(approval.itemId);
  const changes = item?.type === 'fileChange' ? item.changes.map((c, i) => changeRow(ctx, item.id, c, i)) : [];
  return el(
    'div',
    { class: approval.subagent ? 'approval from-subagent' : 'approval', 'data-approval-id': approval.id },
    approval.subagent ? el('div', { class: 'approval-from' }, `Asked by the subagent "${approval.subagent}"`) : '',
    el('div', { class: 'approval-title' }, 'Waiting for approval: ', el('strong', {}, approval.title)),
    approval.command ? el('pre', { class: 'command' }, approval.command) : '',
    ...changes,
    !changes.length && approval.diff ? diffBlock(approval.diff) : '',
    el(
      'div',
      { class: 'buttons' },
      button('Approve', () => ctx.post({ type: 'approve', approvalId: approval.id, decision: 'approve' }), 'Allow this once', 'primary'),
      button('Approve for session', () => ctx.post({ type: 'approve', approvalId: approval.id, decision: 'approveForSession' }), 'Allow this kind of action for the rest of this thread'),
      button('Reject', () => {
        rejectForm.hidden = false;
        reason.focus();
      }, 'Refuse, and tell the agent why'),
    ),
    rejectForm,
  );
}
