/**
 * Splits a streamed HTTP body into newline-delimited JSON documents (the Kubernetes watch wire format).
 *
 * @module
 */

/**
 * Yields each non-empty line of `body` as it arrives. A stream error (connection reset, abort) is thrown from
 * the iteration; a partial last line before a clean end is yielded as is.
 *
 * @param body The response body.
 * @returns The lines, without their newline.
 */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      // One scan per chunk: a chunk often holds many events, and re-slicing the rest after each one is
      // quadratic in the chunk size.
      let start = 0;
      for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n", start)) {
        const line = pending.slice(start, newline).trim();
        start = newline + 1;
        if (line) yield line;
      }
      pending = pending.slice(start);
    }
    const rest = (pending + decoder.decode()).trim();
    if (rest) yield rest;
  } finally {
    reader.cancel().catch(() => {});
  }
}
