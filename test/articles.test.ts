import path from 'node:path';
import { startTestShop, TEST_DIALECTS, type TestClient, type TestShop } from '@cardshop/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const THEMES = ['default', 'wholesale'];

describe.each(TEST_DIALECTS)('articles and announcements per site (%s)', (dialect) => {
  let t: TestShop;
  let admin: TestClient;
  let agent: TestClient;
  const site = `news-${dialect}`;

  beforeAll(async () => {
    t = await startTestShop({ dialect, config: { siteThemes: ['@cardshop/theme-wholesale'] } });
    const a = await t.createUser({ role: 'admin' });
    admin = await t.client().login(a.email, a.password);
    const g = await t.createUser();
    agent = await t.client().login(g.email, g.password);
    await agent.post('/api/store/agent/join');
    expect((await agent.put('/api/store/agent/site', { code: site, name: 'News shop', theme: '@cardshop/theme-wholesale' })).status).toBe(200);
  });
  afterAll(() => t?.close());

  it('the operator writes the main shop\'s in the console; drafts stay hidden; the home page shows announcements', async () => {
    // The home page is cached: seen once before, it must still show the announcement at once.
    expect((await t.client().get('/')).text).not.toContain('春节发货安排');
    const csrf = await admin.csrf('/admin/articles');
    const post = (fields: Record<string, string>, path = '/admin/articles') => admin.post(path, new URLSearchParams({ _csrf: csrf, site: '', format: 'text', ...fields }));
    expect((await post({ title: '春节发货安排', body: '除夕照常发货。\n\n人工订单顺延。', published: '1', announcement: '1', pinned: '1' })).status).toBe(303);
    expect((await post({ title: 'Draft news', body: 'not yet' })).status).toBe(303);
    const refused = await post({ title: '', body: 'x' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('必填');

    const guest = t.client();
    const home = await guest.get('/');
    expect(home.text).toContain('春节发货安排');
    expect(home.text).toContain('除夕照常发货。 人工订单顺延。');
    const list = (await guest.get('/api/store/articles')).body;
    expect(list).toMatchObject({ total: 1, page: 1, pages: 1 });
    expect(list.articles[0]).toMatchObject({ title: '春节发货安排', pinned: true, announcement: true });
    const id = list.articles[0].id;
    const page = await guest.get(`/articles/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<p>除夕照常发货。</p>');
    const draft = (await admin.get('/api/admin/articles')).body.articles.find((a: { title: string }) => a.title === 'Draft news');
    expect((await guest.get(`/articles/${draft.id}`)).status).toBe(404);
    expect((await guest.get(`/api/store/articles/${draft.id}`)).status).toBe(404);
    expect((await guest.get('/articles')).text).not.toContain('Draft news');
    const audit = await t.shop.db.knex('audit_log').where('action', 'article.create').count({ n: '*' }).first();
    expect(audit).toMatchObject({ n: 2 });
  });

  it('renders Markdown as escaped HTML: no script, no raw HTML, no javascript: links, no images', async () => {
    const body = [
      '# Title',
      '**bold** and [a link](https://example.com) and [bad](javascript:alert(1)) and [also bad](JAVASCRIPT:alert(2))',
      '<script>alert(1)</script> <img src=x onerror=alert(1)>',
      '![pic](https://tracker.example/p.png)',
      '| a | b |\n|---|---|\n| 1 | 2 |',
    ].join('\n\n');
    const r = await admin.post('/api/admin/articles', { title: 'Markdown <b>', body, format: 'markdown', published: true });
    expect(r.status).toBe(201);
    const html = r.body.article.html as string;
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<a href="https://example.com" rel="nofollow noopener noreferrer">a link</a>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('<table>');
    expect(html).not.toMatch(/<script|<img|href="javascript:/i);
    expect(html).toContain('[bad](javascript:alert(1))'); // left as text, never a link
    const page = await t.client().get(`/articles/${r.body.article.id}`);
    expect(page.text).toContain('<strong>bold</strong>');
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('Markdown &lt;b&gt;');
    expect(r.body.article.excerpt).toMatch(/^Title bold and a link/);
  });

  it('a sub-shop owner writes its own in the agent centre; each site sees only its own', async () => {
    const page = await agent.get('/agent');
    expect(page.text).toContain('id="articles"');
    const csrf = await agent.csrf('/agent');
    const saved = await agent.post('/agent/articles', new URLSearchParams({ _csrf: csrf, title: '分站公告', body: '本站 24 小时营业', format: 'text', published: 'on', announcement: 'on' }));
    expect(saved.status).toBe(303);
    const refused = await agent.post('/agent/articles', new URLSearchParams({ _csrf: csrf, title: 'x'.repeat(201), body: 'b' }));
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('内容过长');

    const mine = (await agent.get('/api/store/agent/articles')).body.articles;
    expect(mine.map((a: { title: string }) => a.title)).toEqual(['分站公告']);
    // The sub-shop's home page (wholesale theme) and list show its own; the main shop's stay there.
    const subHome = await t.client().get(`/s/${site}/`);
    expect(subHome.text).toContain('分站公告');
    expect(subHome.text).not.toContain('春节发货安排');
    expect((await t.client().get(`/s/${site}/api/store/articles`)).body.articles.map((a: { title: string }) => a.title)).toEqual(['分站公告']);
    expect((await t.client().get(`/s/${site}/articles/${mine[0].id}`)).text).toContain('本站 24 小时营业');
    expect((await t.client().get(`/articles/${mine[0].id}`)).status).toBe(404);
    expect((await t.client().get('/')).text).not.toContain('分站公告');

    // Edit, then delete, through the agent centre's form.
    const edited = await agent.post('/agent/articles', new URLSearchParams({ _csrf: csrf, id: String(mine[0].id), title: '分站公告（更新）', body: '改了', format: 'text', published: 'on' }));
    expect(edited.status).toBe(303);
    expect((await agent.get(`/agent?article=${mine[0].id}`)).text).toContain('value="分站公告（更新）"');
    expect((await t.client().get(`/s/${site}/`)).text).not.toContain('分站公告'); // no longer an announcement
    // Another agent cannot touch it; a customer without a sub-shop has nothing to write to.
    const other = await t.createUser();
    const stranger = await t.client().login(other.email, other.password);
    expect((await stranger.put(`/api/store/agent/articles/${mine[0].id}`, { title: 'mine now', body: 'x' })).status).toBe(403);
    await stranger.post('/api/store/agent/join');
    expect((await stranger.put(`/api/store/agent/articles/${mine[0].id}`, { title: 'mine now', body: 'x' })).body.error.fields).toHaveProperty('site');
    expect((await agent.post('/agent/articles', new URLSearchParams({ _csrf: csrf, id: String(mine[0].id), delete: '1' }))).status).toBe(303);
    expect((await agent.get('/api/store/agent/articles')).body.articles).toEqual([]);
  });

  it('the operator sees and takes down a sub-shop\'s articles', async () => {
    const created = await agent.post('/api/store/agent/articles', { title: 'Spam', body: 'buy elsewhere', published: true });
    expect(created.status).toBe(201);
    const page = await admin.get(`/admin/articles?site=${site}`);
    expect(page.text).toContain('Spam');
    expect((await admin.request('DELETE', `/api/admin/articles/${created.body.article.id}?site=${site}`)).status).toBe(204);
    expect((await t.client().get(`/s/${site}/articles/${created.body.article.id}`)).status).toBe(404);
    expect((await admin.get('/admin/articles?site=nope')).status).toBe(404);
  });

  it('the Store API pages the list, pinned first', async () => {
    // Twenty-two more, in one insert.
    const at = Date.now();
    await t.shop.db.knex('articles').insert(Array.from({ length: 22 }, (_, i) => ({ title: `Note ${i}`, format: 'text', body: 'b', html: '<p>b</p>', published: true, published_at: at - i, created_at: at, updated_at: at })));
    const first = (await t.client().get('/api/store/articles')).body;
    expect(first).toMatchObject({ page: 1, pages: 2, total: 24 });
    expect(first.articles[0].title).toBe('春节发货安排');
    expect(first.articles).toHaveLength(20);
    expect((await t.client().get('/api/store/articles?page=2')).body.articles).toHaveLength(4);
    expect((await t.client().get('/api/store/articles?announcements=1')).body.total).toBe(1);
  });
});

describe('articles in both themes', () => {
  it.each(THEMES)('the %s theme renders the list and an article', async (theme) => {
    const shop = await startTestShop({ dialect: 'sqlite', config: { theme: path.resolve('themes', theme) } });
    try {
      const a = await shop.createUser({ role: 'admin' });
      const c = await shop.client().login(a.email, a.password);
      const { article } = (await c.post('/api/admin/articles', { title: 'Hello', body: '- one\n- two', format: 'markdown', published: true, announcement: true })).body;
      const guest = shop.client();
      expect((await guest.get('/articles')).text).toContain(`/articles/${article.id}`);
      const page = await guest.get(`/articles/${article.id}`);
      expect(page.text).toContain('<li>one</li>');
      expect((await guest.get('/')).text).toContain(`/articles/${article.id}`);
    } finally {
      await shop.close();
    }
  });
});
