// A second, independent MCP client: the official TypeScript SDK's Client over
// stdio (the way Claude Desktop and most hosts launch a server) drives the
// real daemon through everything it offers. The SDK validates every result
// with its zod schemas and tool structuredContent against outputSchema; a
// result that does not validate throws and fails the run.
//
// Usage: node sdk_client.mjs NODE_DIR DAEMON PLUGIN_DIR [--fixture]
//   NODE_DIR   folder whose node_modules holds @modelcontextprotocol/sdk
//   --fixture  PLUGIN_DIR holds conformance_fixture: also check what the
//              fixture promises (progress, logging, sampling, elicitation,
//              cancellation, resource updates) beyond what every plugin must do.
// Exit 0 when every request succeeded and validated, 1 otherwise.
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, daemon, pluginDir, ...flags] = process.argv.slice(2);
const fixture = flags.includes('--fixture');
const require = createRequire(path.join(nodeDir, 'package.json'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/sdk/client/stdio.js');
const types = require('@modelcontextprotocol/sdk/types.js');
const { McpError, ErrorCode } = types;

const REQUEST_TIMEOUT_MS = 30000;
const problems = [];
const notes = [];
const count = {
  resources: 0, templates: 0, templateReads: 0, completions: 0, tools: 0, toolsCalled: 0,
  toolErrors: 0, prompts: 0, promptsGot: 0, subscriptions: 0, logs: 0, progress: 0,
  updates: 0, samplings: 0, elicitations: 0,
};

function problem(what, err) {
  const msg = err instanceof Error ? err.message : String(err);
  problems.push(`${what}: ${msg}`);
  console.log(`  PROBLEM ${what}: ${msg}`);
}

async function check(what, fn) {
  try {
    return await fn();
  } catch (e) {
    problem(what, e);
    return undefined;
  }
}

// All pages of a list method.
async function listAll(method, key) {
  const items = [];
  let cursor;
  for (let page = 0; page < 1000; page++) {
    const r = await client[method](cursor ? { cursor } : {}, { timeout: REQUEST_TIMEOUT_MS });
    items.push(...r[key]);
    if (!r.nextCursor) return items;
    cursor = r.nextCursor;
  }
  throw new Error(`${method}: more than 1000 pages`);
}

// Arguments for a tool from its input schema: required properties only,
// from default, enum, minimum or type. null when no value can be guessed.
function argsFromSchema(schema) {
  const args = {};
  const props = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    const p = props[name] ?? {};
    const type = Array.isArray(p.type) ? p.type[0] : p.type;
    if (p.default !== undefined) args[name] = p.default;
    else if (Array.isArray(p.enum) && p.enum.length) args[name] = p.enum[0];
    else if (type === 'integer' || type === 'number') args[name] = p.minimum ?? (p.exclusiveMinimum ?? 0) + 1;
    else if (type === 'boolean') args[name] = false;
    else if (type === 'string' && !p.format && !p.pattern) args[name] = 'sdk client test value';
    else return null;
  }
  return args;
}

function templateVars(uriTemplate) {
  return [...uriTemplate.matchAll(/\{\+?([A-Za-z0-9_]+)\}/g)].map((m) => m[1]);
}

// ------------------------------------------------------------------ client

const client = new Client(
  { name: 'schedmcp-sdk-client-test', version: '1.0.0' },
  { capabilities: { sampling: {}, elicitation: {} } },
);
// protocol trouble the SDK does not throw for (a response or progress for
// an unknown id, a message that does not parse) is a problem too
client.onerror = (e) => problem('client protocol error', e);
client.setNotificationHandler(types.LoggingMessageNotificationSchema, () => { count.logs++; });
client.setNotificationHandler(types.ResourceUpdatedNotificationSchema, () => { count.updates++; });
let abortOnSampling = null;
client.setRequestHandler(types.CreateMessageRequestSchema, async () => {
  count.samplings++;
  abortOnSampling?.abort('sdk client test');
  abortOnSampling = null;
  return { model: 'sdk-test-model', role: 'assistant', stopReason: 'endTurn',
    content: { type: 'text', text: 'This is a test response from the SDK client' } };
});
client.setRequestHandler(types.ElicitRequestSchema, async (req) => {
  count.elicitations++;
  // accept with each field's default, or a value of its type
  const content = {};
  for (const [k, p] of Object.entries(req.params.requestedSchema?.properties ?? {})) {
    if (p.default !== undefined) content[k] = p.default;
    else if (p.type === 'array') content[k] = [p.items?.enum?.[0] ?? p.items?.anyOf?.[0]?.const].filter(Boolean);
    else if (p.type === 'boolean') content[k] = true;
    else if (p.type === 'number' || p.type === 'integer') content[k] = p.minimum ?? 1;
    else content[k] = p.enum?.[0] ?? p.oneOf?.[0]?.const ?? (k === 'email' ? 'sdk@example.com' : 'sdk');
  }
  return { action: 'accept', content };
});

const stderr = [];
const transport = new StdioClientTransport({
  command: daemon,
  args: ['--config', '/dev/null', '--plugin-dir', pluginDir, '--no-default-plugins',
         '--log-level', 'warning'],
  env: getDefaultEnvironment(), // what hosts pass: HOME, LOGNAME, PATH, SHELL, TERM, USER
  stderr: 'pipe',
});
transport.stderr?.on('data', (d) => stderr.push(d.toString()));

const started = Date.now();
try {
  await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
} catch (e) {
  console.log(`sdk-client: cannot connect to ${daemon}: ${e.message}`);
  console.log(stderr.join(''));
  process.exit(1);
}
const server = client.getServerVersion();
const caps = client.getServerCapabilities() ?? {};
console.log(`connected to ${server?.name} ${server?.version}, capabilities: ${Object.keys(caps).join(', ')}`);

await check('ping', () => client.ping());
await check('logging/setLevel info', () => client.setLoggingLevel('info'));

// ---------------------------------------------------------------- resources

const resources = (await check('resources/list', () => listAll('listResources', 'resources'))) ?? [];
count.resources = resources.length;
for (const r of resources) {
  await check(`resources/read ${r.uri}`, async () => {
    const res = await client.readResource({ uri: r.uri }, { timeout: REQUEST_TIMEOUT_MS });
    if (!res.contents.length) throw new Error('no contents');
    for (const c of res.contents) {
      if (c.uri !== r.uri) throw new Error(`contents uri ${c.uri} is not the one read`);
      if (c.text === undefined && c.blob === undefined) throw new Error('neither text nor blob');
      if (c.mimeType === 'application/json' && c.text !== undefined) JSON.parse(c.text);
    }
  });
  await check(`resources/subscribe ${r.uri}`, async () => {
    await client.subscribeResource({ uri: r.uri });
    await client.unsubscribeResource({ uri: r.uri });
    count.subscriptions++;
  });
}
await check('resources/read of an unknown URI is error -32002', async () => {
  try {
    await client.readResource({ uri: 'nonexistent://sdk-client-test' });
  } catch (e) {
    if (e instanceof McpError && e.code === -32002) return;
    throw e;
  }
  throw new Error('it succeeded');
});

const templates = (await check('resources/templates/list',
  () => listAll('listResourceTemplates', 'resourceTemplates'))) ?? [];
count.templates = templates.length;
for (const t of templates) {
  const values = {};
  for (const v of templateVars(t.uriTemplate)) {
    await check(`completion/complete ${t.uriTemplate} {${v}}`, async () => {
      const r = await client.complete({ ref: { type: 'ref/resource', uri: t.uriTemplate },
        argument: { name: v, value: '' }, context: { arguments: values } });
      count.completions++;
      if (r.completion.values.length) values[v] = r.completion.values[0];
    });
  }
  const vars = templateVars(t.uriTemplate);
  if (vars.every((v) => values[v] !== undefined)) {
    // a URI built from completed values must be readable
    const uri = t.uriTemplate.replace(/\{(\+?)([A-Za-z0-9_]+)\}/g,
      (_, reserved, v) => (reserved ? encodeURI : encodeURIComponent)(values[v]));
    await check(`resources/read ${uri} (template ${t.uriTemplate})`, async () => {
      const res = await client.readResource({ uri }, { timeout: REQUEST_TIMEOUT_MS });
      if (!res.contents.length) throw new Error('no contents');
      count.templateReads++;
    });
  } else {
    notes.push(`template ${t.uriTemplate}: completion offered no value for every variable; not read`);
  }
}

// -------------------------------------------------------------------- tools

const tools = (await check('tools/list', () => listAll('listTools', 'tools'))) ?? [];
count.tools = tools.length;
// listTools() keeps the outputSchema validators of the last page only
client.cacheToolMetadata(tools);
for (const t of tools) {
  if (!t.description) problem(`tool ${t.name}`, 'no description');
  if (t.inputSchema?.type !== 'object') problem(`tool ${t.name}`, 'inputSchema.type is not "object"');
  const readOnly = t.annotations?.readOnlyHint === true;
  if (!readOnly && !fixture) {
    notes.push(`tool ${t.name}: not read-only; not called`);
    continue;
  }
  const args = argsFromSchema(t.inputSchema ?? {});
  if (!args) {
    notes.push(`tool ${t.name}: no valid arguments can be guessed from its schema; not called`);
    continue;
  }
  let progress = 0;
  const res = await check(`tools/call ${t.name} ${JSON.stringify(args)}`, () =>
    client.callTool({ name: t.name, arguments: args }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
      onprogress: () => { progress++; count.progress++; },
    }));
  if (!res) continue;
  count.toolsCalled++;
  if (!res.content?.length) problem(`tools/call ${t.name}`, 'empty content');
  if (res.isError) {
    count.toolErrors++;
    const why = res.content?.[0]?.text ?? '';
    notes.push(`tool ${t.name} answered isError: ${why.slice(0, 160)}`);
    // the fixture's own tools must succeed; the core's (poll_events, history,
    // watches) may rightly refuse arguments guessed from their schemas
    if (fixture && t.name.startsWith('test_') && t.name !== 'test_error_handling')
      problem(`tools/call ${t.name}`, `isError: ${why}`);
  }
  if (fixture && t.name === 'test_tool_with_progress' && progress !== 3)
    problem('test_tool_with_progress', `${progress} progress notifications, expected 3`);
}

// ------------------------------------------------------------------ prompts

const prompts = (await check('prompts/list', () => listAll('listPrompts', 'prompts'))) ?? [];
count.prompts = prompts.length;
for (const p of prompts) {
  const args = {};
  const guessed = [];
  for (const a of p.arguments ?? []) {
    const r = await check(`completion/complete prompt ${p.name} ${a.name}`, () =>
      client.complete({ ref: { type: 'ref/prompt', name: p.name }, argument: { name: a.name, value: '' },
        context: { arguments: args } }));
    if (r) count.completions++;
    if (r?.completion.values.length) args[a.name] = r.completion.values[0];
    else if (a.required) {
      args[a.name] = '1';
      guessed.push(a.name);
    }
  }
  const res = await check(`prompts/get ${p.name} ${JSON.stringify(args)}`, async () => {
    try {
      return await client.getPrompt({ name: p.name, arguments: args }, { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      // a value made up without completion may be refused; that is no fault
      if (guessed.length && e instanceof McpError && e.code === ErrorCode.InvalidParams) {
        notes.push(`prompt ${p.name}: refused made-up ${guessed.join(', ')} (${e.message})`);
        return null;
      }
      throw e;
    }
  });
  if (res === null || res === undefined) continue;
  if (!res.messages.length) problem(`prompts/get ${p.name}`, 'no messages');
  count.promptsGot++;
}

// ---------------------------------------------- what the fixture promises

if (fixture) {
  await check('fixture: logging at debug level', async () => {
    await client.setLoggingLevel('debug');
    const before = count.logs;
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    // notifications are written before the result: all have arrived
    if (count.logs - before < 3) throw new Error(`${count.logs - before} log notifications, expected 3`);
  });
  await check('fixture: resource updated notification for a subscriber', async () => {
    await client.subscribeResource({ uri: 'test://watched-resource' });
    const before = count.updates;
    await client.callTool({ name: 'test_update_watched_resource', arguments: {} });
    await client.unsubscribeResource({ uri: 'test://watched-resource' });
    await client.callTool({ name: 'test_update_watched_resource', arguments: {} });
    await client.ping();
    if (count.updates - before !== 1) throw new Error(`${count.updates - before} updates, expected 1`);
  });
  // A cancelled call must get no response: one would reach the SDK as
  // "response for an unknown message ID" through onerror, a problem.
  await check('fixture: a call cancelled while it waits for sampling', async () => {
    const ac = new AbortController();
    abortOnSampling = ac; // the sampling handler cancels, then answers anyway
    try {
      await client.callTool({ name: 'test_sampling', arguments: { prompt: 'cancel me' } },
        undefined, { signal: ac.signal });
      throw new Error('the call finished although it was cancelled');
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    }
    await client.ping();
  });
  await check('fixture: a call cancelled between its progress steps', async () => {
    const ac = new AbortController();
    try {
      await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined,
        { signal: ac.signal, onprogress: () => ac.abort('sdk client test') });
      throw new Error('the call finished although it was cancelled');
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    }
    await new Promise((r) => setTimeout(r, 300)); // past the tool's last step
    await client.ping();
  });
  if (count.samplings < 1) problem('fixture', 'the server never asked for sampling');
  if (count.elicitations < 3) problem('fixture', `${count.elicitations} elicitation requests, expected 3`);
}

await check('logging/setLevel warning', () => client.setLoggingLevel('warning'));
await client.close();

for (const n of notes) console.log(`  note: ${n}`);
const secs = ((Date.now() - started) / 1000).toFixed(1);
const summary = `${count.resources} resources read and subscribed, ${count.templates} templates ` +
  `(${count.templateReads} read), ${count.completions} completions, ${count.toolsCalled} of ` +
  `${count.tools} tools called (${count.toolErrors} isError), ${count.promptsGot} of ` +
  `${count.prompts} prompts got, ${count.logs} log and ${count.progress} progress notifications` +
  (fixture ? `, ${count.samplings} sampling and ${count.elicitations} elicitation requests answered` : '') +
  ` in ${secs} s`;
if (problems.length) {
  console.log(stderr.join('').split('\n').slice(-30).join('\n'));
  console.log(`sdk-client: ${problems.length} problem(s) against ${pluginDir}; ${summary}`);
  process.exit(1);
}
console.log(`sdk-client: every result validated against ${pluginDir}; ${summary}`);
