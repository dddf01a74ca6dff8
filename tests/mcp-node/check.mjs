// Lists and calls shipstar's MCP tools with the official TypeScript SDK
// (@modelcontextprotocol/sdk, version pinned in package-lock.json).
//
//   SHIPSTAR_MCP_URL=http://127.0.0.1:8080/mcp SHIPSTAR_MCP_KEY=sk_live_... node check.mjs
//
// The key's project gets one published changelog and one draft blog post (titles and slugs
// end in a random suffix). Every unexpected answer exits non-zero with a message.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.env.SHIPSTAR_MCP_URL;
const key = process.env.SHIPSTAR_MCP_KEY;
if (!url || !key) {
  console.error('set SHIPSTAR_MCP_URL and SHIPSTAR_MCP_KEY');
  process.exit(2);
}

const readTools = ['get_blog_post', 'get_changelog', 'get_kb_article_set', 'list_blog_posts',
  'list_changelogs', 'list_drafts', 'list_kb_article_sets'];
const writeTools = ['create_content', 'publish_content', 'unpublish_content', 'update_content'];

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: 'shipstar-node-check', version: '1.0.0' });
await client.connect(transport);
assert.equal(transport.sessionId, undefined, 'the server is stateless: no Mcp-Session-Id');

async function call(name, args, { error = false } = {}) {
  const result = await client.callTool({ name, arguments: args });
  const text = result.content?.[0]?.text ?? '';
  if (error) {
    assert.equal(result.isError, true, `${name} should fail, answered ${text}`);
    return text;
  }
  assert.notEqual(result.isError, true, `${name} failed: ${text}`);
  assert.deepEqual(JSON.parse(text), result.structuredContent, `${name}: text and structure`);
  return result.structuredContent;
}

const { tools } = await client.listTools();
assert.deepEqual(tools.map((tool) => tool.name).sort(), [...readTools, ...writeTools].sort());
for (const tool of tools) {
  assert.equal(tool.annotations?.readOnlyHint, readTools.includes(tool.name), tool.name);
  assert.equal(tool.inputSchema.type, 'object', tool.name);
  assert.equal(tool.outputSchema?.type, 'object', tool.name);
}

const suffix = randomUUID().slice(0, 8);
const entries = { title: 'April', entries: [{ category: 'Fixed', title: 'Node', description: 'Works' }] };
const created = await call('create_content', {
  type: 'changelog', title: `April ${suffix}`, content: JSON.stringify(entries),
});
const slug = `april-${suffix}`;
const published = await call('publish_content', { id: created.id, slug });
assert.equal(published.public_slug, slug);
const listed = await call('list_changelogs', { limit: 100 });
assert.ok(listed.items.some((item) => item.slug === slug), 'listed');
const one = await call('get_changelog', { slug });
assert.equal(one.title, `April ${suffix}`);
const draft = await call('create_content', { type: 'blog', title: `Draft ${suffix}`, content: 'Soon.' });
const drafts = await call('list_drafts', { type: 'blog' });
assert.ok(drafts.items.some((item) => item.id === draft.id), 'draft listed');
const invalid = await call('create_content', { type: 'kb', title: 'Broken', content: 'not json' }, { error: true });
assert.match(invalid, /content/);
const missing = await call('get_blog_post', { slug: `no-such-post-${suffix}` }, { error: true });
assert.equal(missing, 'Blog post not found');

console.log(`node sdk: protocol ${transport.protocolVersion}, ${tools.length} tools ok`);
await client.close();
