import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, highlight, renderMarkdown } from '../src/chat/markdown';

test('markdown renders emphasis, code and lists', () => {
  const html = renderMarkdown('**Hello** from `calc.py`:\n\n- one\n- two\n\n```py\nx = 1\n```');
  assert.match(html, /<strong>Hello<\/strong>/);
  assert.match(html, /<code>calc.py<\/code>/);
  assert.match(html, /<li>one<\/li>/);
  assert.match(html, /<pre><code class="language-py">x = <span class="hl-number">1<\/span>\n<\/code><\/pre>/);
});

test('raw HTML from the model is escaped, never rendered', () => {
  const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror=alert(1)>');
  assert.doesNotMatch(html, /<script|<img/);
  assert.match(html, /&lt;script&gt;/);
});

test('only http(s) and mailto links become links; images are not loaded', () => {
  assert.match(renderMarkdown('[docs](https://example.com)'), /<a href="https:\/\/example.com"/);
  assert.doesNotMatch(renderMarkdown('[x](javascript:alert(1))'), /<a /);
  assert.doesNotMatch(renderMarkdown('[x](command:workbench.action.quit)'), /<a /);
  assert.doesNotMatch(renderMarkdown('![t](https://example.com/t.png)'), /<img/);
});

test('escapeHtml escapes the five characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
});

test('code is highlighted as escaped spans: keywords, strings, comments; plain text untouched', () => {
  const html = highlight('def f(x): return "<a>"  # note', 'python');
  assert.equal(
    html,
    '<span class="hl-keyword">def</span> f(x): <span class="hl-keyword">return</span> <span class="hl-string">&#34;&#60;a&#62;&#34;</span>  <span class="hl-comment"># note</span>',
  );
  assert.equal(highlight('if <b>', 'text'), 'if &#60;b&#62;');
});
