/**
 * Request body caps, applied before anything parses a body: a declared Content-Length over the cap is
 * refused without reading a byte, and a body without one (chunked) is counted while it streams and
 * refused as soon as it passes the cap. Either way at most the cap is ever held in memory.
 */

export const KIB = 1024;
export const MIB = 1024 * KIB;

/** The body's bytes, or null when it is (or says it is) larger than `max`. */
export async function readBodyCapped(req: Request, max: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (declaredTooLarge(req, max)) return null;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      // The body is refused either way; a stream that fails to cancel has nothing more to say.
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** True when the request's Content-Length is over `max` (or not a number). */
export function declaredTooLarge(req: Request, max: number): boolean {
  const declared = req.headers.get("content-length");
  if (declared === null) return false;
  const size = Number(declared);
  return !Number.isSafeInteger(size) || size < 0 || size > max;
}

/** "4 MB"-style, for the refusal's message. */
export function describeLimit(max: number): string {
  return max >= MIB ? `${max / MIB} MB` : `${max / KIB} KB`;
}
