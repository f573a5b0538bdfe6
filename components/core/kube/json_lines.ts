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
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) yield line;
      }
    }
    const rest = (pending + decoder.decode()).trim();
    if (rest) yield rest;
  } finally {
    reader.cancel().catch(() => {});
  }
}
