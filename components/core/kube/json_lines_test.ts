import assert from "node:assert/strict";
import { jsonLines } from "./json_lines.ts";

function streamOf(chunks: string[], error?: Error): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const queue = [...chunks];
  return new ReadableStream({
    pull(controller) {
      const chunk = queue.shift();
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (error) controller.error(error);
      else controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of jsonLines(stream)) lines.push(line);
  return lines;
}

Deno.test("jsonLines() joins lines split across chunks", async () => {
  assert.deepEqual(await collect(streamOf(['{"a":', "1}\n{", '"b":2}\n\n'])), ['{"a":1}', '{"b":2}']);
});

Deno.test("jsonLines() yields a last line without newline", async () => {
  assert.deepEqual(await collect(streamOf(['{"a":1}\n{"b":2}'])), ['{"a":1}', '{"b":2}']);
});

Deno.test("jsonLines() decodes multi-byte characters split across chunks", async () => {
  const bytes = new TextEncoder().encode('{"x":"é"}\n');
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, 7));
      controller.enqueue(bytes.slice(7));
      controller.close();
    },
  });
  assert.deepEqual(await collect(stream), ['{"x":"é"}']);
});

Deno.test("jsonLines() throws the stream error after the complete lines", async () => {
  const lines: string[] = [];
  await assert.rejects(async () => {
    for await (const line of jsonLines(streamOf(['{"a":1}\n{"b"'], new TypeError("connection reset")))) {
      lines.push(line);
    }
  }, /connection reset/);
  assert.deepEqual(lines, ['{"a":1}']);
});
