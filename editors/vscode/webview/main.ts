/**
 * The chat webview's script (bundled to dist/webview.js): draws the ViewModel the extension
 * posts, keyed by item id so only changed items are redrawn, and posts the user's clicks
 * back. Text from the model or the server is only ever set as textContent, or as HTML from
 * the safe markdown renderer.
 */

import type { Chip, FromWebview, ShownApproval, ShownItem, ToWebview, ViewModel } from '../src/chat/messages';
import type { Todo } from '../src/chat/protocol';
import { button, el } from './dom';
import { Context, renderApproval, renderItem } from './render';

declare function acquireVsCodeApi(): { postMessage(message: unknown): void; getState(): any; setState(state: unknown): void };
const vscode = acquireVsCodeApi();
const post = (message: FromWebview) => vscode.postMessage(message);

const items = new Map<string, ShownItem>();
const drawn = new Map<string, { key: string; node: HTMLElement }>();
const openDetails = new Set<string>(); // keys of <details> the user opened
let approvalsKey = '';
let threadsKey = '';
const context: Context = { post, openDetails, item: (id) => items.get(id)?.item, undoable: new Set() };
let chips: Chip[] = [];

// --- the page's fixed parts -------------------------------------------------------------------

const threadSelect = el('select', { id: 'thread', title: 'Thread', 'aria-label': 'Thread' });
const newButton = button('New', () => post({ type: 'newThread' }), 'Start a new thread');
const compactButton = button('Compact', () => post({ type: 'compact' }), 'Summarize the conversation so far to free context (Agent: Compact Conversation)');
compactButton.id = 'compact';
const notice = el('div', { id: 'notice', class: 'notice', role: 'alert' });
const messages = el('div', { id: 'messages', role: 'log', 'aria-live': 'polite' });
const todos = el('section', { id: 'todos', 'aria-label': 'Plan' });
const approvals = el('section', { id: 'approvals', 'aria-label': 'Approvals' });
const usage = el('div', { id: 'usage', class: 'usage' });
const activity = el('span', { id: 'activity', class: 'activity' });
const presence = el('div', { id: 'presence', class: 'presence' });
const queued = el('div', { id: 'queued', class: 'queued' });
const chipBox = el('div', { id: 'chips', class: 'chips' });
const addFile = button('@ File', () => post({ type: 'pickFile' }), 'Add a workspace file to the prompt');
const addCurrent = button('+ Current file', () => post({ type: 'currentFile', selection: false }), 'Add the file in the editor to the prompt');
const addSelection = button('+ Selection', () => post({ type: 'currentFile', selection: true }), 'Add the editor selection to the prompt');
const modelInput = el('input', { id: 'model', type: 'text', class: 'model', placeholder: 'default model', title: 'Model (agentLsp.model)', 'aria-label': 'Model' });
const modeSelect = el(
  'select',
  { id: 'mode', title: 'What the agent may do without asking (agentLsp.permissionMode)', 'aria-label': 'Permission mode' },
  ...[
    ['ask', 'Ask before edits'],
    ['acceptEdits', 'Accept edits'],
    ['readOnly', 'Read only'],
    ['bypass', 'Bypass (no asking)'],
  ].map(([value, label]) => el('option', { value }, label)),
);
const prompt = el('textarea', {
  id: 'prompt',
  rows: '3',
  placeholder: 'Ask the agent… (Enter to send, Shift+Enter for a new line)',
  'aria-label': 'Prompt',
});
const interrupt = button('Interrupt', () => post({ type: 'interrupt' }), 'Stop the running turn');
const send = button('Send', () => submit(), 'Send the prompt', 'primary');

document.getElementById('app')!.append(
  el('header', { class: 'bar' }, threadSelect, compactButton, newButton),
  presence,
  messages,
  todos,
  approvals,
  el(
    'footer',
    {},
    notice,
    queued,
    usage,
    el('div', { class: 'context' }, addCurrent, addSelection, addFile, chipBox),
    prompt,
    el('div', { class: 'actions' }, modeSelect, modelInput, activity, interrupt, send),
  ),
);
modelInput.addEventListener('change', () => post({ type: 'setModel', model: modelInput.value.trim() }));
modeSelect.addEventListener('change', () => post({ type: 'setMode', mode: modeSelect.value }));

function drawChips(): void {
  chipBox.replaceChildren(
    ...chips.map((chip, index) => {
      const remove = button('×', () => {
        chips.splice(index, 1);
        drawChips();
      }, `Remove ${chip.label}`, 'link');
      return el('span', { class: 'chip', 'data-uri': chip.uri }, chip.label, remove);
    }),
  );
}

prompt.value = vscode.getState()?.draft ?? '';
prompt.addEventListener('input', () => vscode.setState({ draft: prompt.value }));
prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  } else if (event.key === '@' && prompt.value.trim() === '') {
    event.preventDefault();
    post({ type: 'pickFile' });
  }
});
threadSelect.addEventListener('focus', () => post({ type: 'refreshThreads' }));
threadSelect.addEventListener('change', () => {
  const id = threadSelect.value;
  post(id ? { type: 'selectThread', threadId: id } : { type: 'newThread' });
});

function submit(): void {
  const text = prompt.value.trim();
  if (!text) {
    return;
  }
  post({ type: 'send', text, chips });
  followBottom = true;
  chips = [];
  drawChips();
  prompt.value = '';
  vscode.setState({ draft: '' });
}

function drawItems(order: string[]): void {
  const keep = new Set(order);
  for (const [id, { node }] of drawn) {
    if (!keep.has(id)) {
      node.remove();
      drawn.delete(id);
    }
  }
  let previous: Element | null = null;
  for (const id of order) {
    const chat = items.get(id);
    if (!chat) {
      continue;
    }
    let entry = drawn.get(id);
    if (!entry || entry.key !== chat.drawKey) {
      const node = renderItem(context, chat);
      node.dataset.itemId = id;
      node.dataset.rev = String(chat.rev);
      entry?.node.replaceWith(node);
      entry = { key: chat.drawKey, node };
      drawn.set(id, entry);
    }
    const expected: Element | null = previous ? previous.nextElementSibling : messages.firstElementChild;
    if (expected !== entry.node) {
      messages.insertBefore(entry.node, expected);
    }
    previous = entry.node;
  }
  if (order.length === 0) {
    messages.replaceChildren(
      el('p', { class: 'empty' }, 'Ask the agent about this workspace. It asks before it edits files or runs commands.'),
    );
  } else {
    messages.querySelector(':scope > p.empty')?.remove();
  }
}

let followBottom = true; // newest lines stay visible unless the user scrolled up
messages.addEventListener('scroll', () => {
  followBottom = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 40;
});
function keepBottom(): void {
  if (followBottom) {
    messages.scrollTop = messages.scrollHeight;
  }
}
new ResizeObserver(keepBottom).observe(messages);

// --- approvals, plan, status ------------------------------------------------------------------

function drawApprovals(list: ShownApproval[]): void {
  const key = list.map((a) => a.id + (items.get(a.itemId)?.rev ?? 0)).join(',');
  if (key !== approvalsKey) {
    approvalsKey = key;
    approvals.replaceChildren(...list.map((a) => renderApproval(context, a)));
  }
}

function drawTodos(list: Todo[]): void {
  const mark = { pending: '○', in_progress: '◐', completed: '●' };
  todos.replaceChildren(
    ...(list.length
      ? [el('div', { class: 'todos-title' }, 'Plan'), el('ul', {}, ...list.map((t) => el('li', { class: t.status }, `${mark[t.status]} ${t.content}`)))]
      : []),
  );
}

function drawThreads(m: ViewModel): void {
  const choices = [...m.threads];
  if (m.threadId && !choices.some((t) => t.id === m.threadId)) {
    choices.unshift({ id: m.threadId, title: m.title || 'This thread', running: false });
  }
  const key = JSON.stringify([m.threadId, choices]);
  if (key === threadsKey) {
    return;
  }
  threadsKey = key;
  threadSelect.replaceChildren(
    el('option', { value: '' }, 'New thread'),
    ...choices.map((t) => el('option', { value: t.id }, (t.running ? '● ' : '') + t.title)),
  );
  threadSelect.value = m.threadId ?? '';
}

function drawStatus(m: ViewModel): void {
  const server = { starting: 'Starting agent-lsp…', stopped: 'agent-lsp is not running', failed: 'agent-lsp failed to start' };
  const text =
    m.connection !== 'running'
      ? server[m.connection]
      : { idle: '', working: 'Working…', approval: 'Waiting for your approval' }[m.activity];
  activity.textContent = text;
  activity.className = `activity state-${m.connection === 'running' ? m.activity : m.connection}`;
  interrupt.hidden = m.turn?.status !== 'running';
  compactButton.disabled = m.connection !== 'running' || !m.threadId || m.turn?.status === 'running';
  notice.textContent = m.notice ?? (m.turn?.status === 'failed' ? `Turn failed: ${m.turn.error ?? 'unknown error'}` : '');
  notice.hidden = !notice.textContent;
  presence.textContent = m.presence;
  presence.hidden = !m.presence;
  queued.replaceChildren(
    ...m.queued.map((text) => el('div', { class: 'queued-prompt', title: 'Sent when agent-lsp is back' }, `Waiting to send: ${text}`)),
  );
  queued.hidden = m.queued.length === 0;
  if (document.activeElement !== modelInput) {
    modelInput.value = m.model;
  }
  modeSelect.value = m.permissionMode;
  usage.textContent = m.usage;
  document.body.dataset.activity = m.activity;
  document.body.dataset.connection = m.connection;
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  if (message.type === 'focusPrompt') {
    prompt.focus();
    return;
  }
  if (message.type === 'addChip') {
    if (!chips.some((c) => c.uri === message.chip.uri && JSON.stringify(c.range) === JSON.stringify(message.chip.range))) {
      chips.push(message.chip);
      drawChips();
    }
    prompt.focus();
    return;
  }
  if (message.reset) {
    items.clear();
    drawn.clear();
    messages.replaceChildren();
    approvalsKey = '';
  }
  const model = message.model;
  const undoKey = model.undoable.join(',');
  if (undoKey !== [...context.undoable].join(',')) {
    context.undoable = new Set(model.undoable);
    drawn.forEach((entry) => (entry.key = '')); // redraw: the Undo buttons changed
  }
  message.model.changed.forEach((chat) => items.set(chat.item.id, chat));
  const keep = new Set(message.model.order);
  [...items.keys()].filter((id) => !keep.has(id)).forEach((id) => items.delete(id));
  drawItems(model.order);
  drawApprovals(model.approvals);
  drawTodos(model.todos);
  drawThreads(model);
  drawStatus(model);
  keepBottom();
});

post({ type: 'ready' });
