import MarkdownIt from 'markdown-it';

/**
 * Article bodies become HTML once, when saved: plain text escaped into paragraphs, or a safe
 * subset of Markdown (headings, emphasis, lists, quotes, code, tables, links). Raw HTML in the
 * source is escaped, not passed through; images are off (they would load from anywhere); links
 * may only go to http(s), mailto or this site, and carry rel="nofollow noopener noreferrer".
 */

const md = new MarkdownIt('default', { html: false, linkify: true, breaks: true });
md.disable(['image']);

const SAFE_LINK = /^(?:https?:|mailto:|\/(?!\/)|#|\?|[^:]*$)/i;
md.validateLink = (url) => SAFE_LINK.test(url.trim());

const renderToken: NonNullable<typeof md.renderer.rules.link_open> = (tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options);
const linkOpen = md.renderer.rules.link_open ?? renderToken;
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
  return linkOpen(tokens, idx, options, env, self);
};

export type ArticleFormat = 'text' | 'markdown';

const escapeHtml = md.utils.escapeHtml;

/** Plain text: escaped, blank lines make paragraphs, single line breaks stay. */
function textToHtml(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>`)
    .join('\n');
}

export function renderBody(format: ArticleFormat, body: string): string {
  return format === 'markdown' ? md.render(body) : textToHtml(body);
}

/** The body's words without markup, for an excerpt (Markdown is parsed, not regex-stripped). */
export function plainText(format: ArticleFormat, body: string): string {
  if (format === 'text') return body;
  const words: string[] = [];
  for (const block of md.parse(body, {})) {
    if (block.type === 'inline') for (const t of block.children ?? []) if (t.type === 'text' || t.type === 'code_inline') words.push(t.content);
    if (block.type === 'code_block' || block.type === 'fence') words.push(block.content);
    if (block.type.endsWith('_close') && block.block) words.push(' ');
  }
  return words.join('');
}
