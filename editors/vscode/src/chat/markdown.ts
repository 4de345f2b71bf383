/**
 * Markdown for agent messages, rendered safely: raw HTML in the model's text is escaped,
 * links may only be http(s) or mailto, and images are not loaded. Used by the webview
 * (bundled with markdown-it); no `vscode` import.
 */

import MarkdownIt from 'markdown-it';

const SAFE_LINK = /^(https?:|mailto:)/i;

const KEYWORDS = new Set(
  ('def class return if elif else for while in not and or import from as with try except finally raise yield lambda pass '
    + 'break continue None True False async await function const let var new this typeof instanceof export default '
    + 'interface type extends implements public private protected static fn pub impl struct enum match use mod mut '
    + 'func package go defer select case switch do null undefined true false void int string bool self')
    .split(' '),
);
const TOKEN = /(#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d[\d_.]*\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

/** Code in answers, lightly highlighted (comments, strings, numbers, keywords): escaped text
 * in spans with `hl-*` classes that the theme colours. */
export function highlight(code: string, lang: string): string {
  if (['', 'text', 'plain', 'txt', 'diff', 'output'].includes(lang.toLowerCase())) {
    return escapeHtml(code);
  }
  let out = '';
  let last = 0;
  for (const m of code.matchAll(TOKEN)) {
    const at = m.index ?? 0;
    out += escapeHtml(code.slice(last, at));
    last = at + m[0].length;
    const isHash = m[1]?.startsWith('#') && !['python', 'py', 'sh', 'bash', 'shell', 'ruby', 'rb', 'yaml', 'yml', 'toml'].includes(lang.toLowerCase());
    const cls = m[1] && !isHash ? 'comment' : m[2] ? 'string' : m[3] ? 'number' : m[4] && KEYWORDS.has(m[4]) ? 'keyword' : '';
    out += cls ? `<span class="hl-${cls}">${escapeHtml(m[0])}</span>` : escapeHtml(m[0]);
  }
  return out + escapeHtml(code.slice(last));
}

function create(): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: false, breaks: false, typographer: false, highlight });
  md.validateLink = (url: string) => SAFE_LINK.test(url.trim());
  md.disable(['image']);
  const renderLink = md.renderer.rules.link_open;
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx].attrSet('title', tokens[idx].attrGet('href') ?? '');
    return renderLink ? renderLink(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
  };
  return md;
}

let instance: MarkdownIt | undefined;

/** HTML for `text`, safe to put in the webview's DOM. */
export function renderMarkdown(text: string): string {
  instance ??= create();
  return instance.render(text);
}

/** Escape text for HTML (for the few places that build markup by hand). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
