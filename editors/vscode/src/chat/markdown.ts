/**
 * Markdown for agent messages, rendered safely: raw HTML in the model's text is escaped,
 * links may only be http(s) or mailto, and images are not loaded. Used by the webview
 * (bundled with markdown-it); no `vscode` import.
 */

import MarkdownIt from 'markdown-it';

const SAFE_LINK = /^(https?:|mailto:)/i;

function create(): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: false, breaks: false, typographer: false });
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
