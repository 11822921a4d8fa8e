// The official TypeScript SDK's Client calls query_history with format png
// on the real daemon (synth plugin) and validates the answer with the SDK's
// own CallToolResult schema: an image content block with base64 data and a
// mime type, beside a text summary.
// Usage: node sdk_png.mjs NODE_DIR DAEMON ARGS...
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, daemon, ...args] = process.argv.slice(2);
const require = createRequire(path.join(nodeDir, 'package.json'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { CallToolResultSchema } = require('@modelcontextprotocol/sdk/types.js');

const client = new Client({ name: 'schedmcp-draw-test', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command: daemon, args, stderr: 'inherit' }));
await client.callTool({ name: 'synth_set', arguments: { hist_count: 5, hist_bucket: 2, ncpu: 2 } });
let r;
for (let i = 0; i < 100; i++) {
  await new Promise((res) => setTimeout(res, 100));
  r = await client.callTool({ name: 'query_history',
    arguments: { metric: 'synth_latency_ns', start: '-5m', format: 'png' } },
    CallToolResultSchema);
  if (!r.isError) break;
}
const parsed = CallToolResultSchema.parse(r);
const img = parsed.content.find((c) => c.type === 'image');
if (parsed.isError || !img || img.mimeType !== 'image/png' ||
    !Buffer.from(img.data, 'base64').subarray(1, 4).equals(Buffer.from('PNG'))) {
  console.log('FAIL', JSON.stringify(r).slice(0, 400));
  process.exit(1);
}
console.log(`validated: ${parsed.content.map((c) => c.type).join(', ')}, ` +
  `${Buffer.from(img.data, 'base64').length} bytes of PNG`);
await client.close();
