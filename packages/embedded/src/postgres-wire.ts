/** The PostgreSQL wire protocol as the embedded server needs it: framing, and the few backend messages it writes itself. */

export const SSL_REQUEST = 80877103;
export const GSS_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;
/** Larger than any statement Loopy sends; a bigger length is garbage, not a message. */
export const MAX_MESSAGE = 256 * 1024 * 1024;
/** Before authentication a client gets no more than this per message (PostgreSQL's startup packet limit). */
export const MAX_UNAUTHENTICATED_MESSAGE = 10_000;
export const AUTH_SASL = 10;
export const AUTH_SASL_CONTINUE = 11;
export const AUTH_SASL_FINAL = 12;

/** Splits the bytes received so far into whole protocol messages. */
export function takeMessages(
  buffer: Buffer,
  inStartup: boolean,
  maxMessage = MAX_MESSAGE,
): { messages: Buffer[]; rest: Buffer; inStartup: boolean } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (true) {
    if (inStartup) {
      if (buffer.length - offset < 4) break;
      const length = buffer.readInt32BE(offset);
      if (length < 8 || length > maxMessage) throw new Error(`bad startup packet length ${length}`);
      if (buffer.length - offset < length) break;
      messages.push(buffer.subarray(offset, offset + length));
      offset += length;
      const code = length >= 8 ? buffer.readInt32BE(offset - length + 4) : 0;
      // After SSL/GSS requests the client sends another startup packet.
      if (code !== SSL_REQUEST && code !== GSS_REQUEST) inStartup = false;
      continue;
    }
    if (buffer.length - offset < 5) break;
    const length = buffer.readInt32BE(offset + 1);
    if (length < 4 || length > maxMessage) throw new Error(`bad message length ${length}`);
    if (buffer.length - offset < length + 1) break;
    messages.push(buffer.subarray(offset, offset + length + 1));
    offset += length + 1;
  }
  return { messages, rest: buffer.subarray(offset), inStartup };
}

/** A backend message: type byte, length, body. */
function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** AuthenticationSASL, SASLContinue or SASLFinal: an 'R' message with its code. */
export function authentication(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(4 + data.length);
  body.writeInt32BE(code, 0);
  data.copy(body, 4);
  return backendMessage("R", body);
}

/** A FATAL ErrorResponse, as PostgreSQL sends before closing a connection it refuses. */
export function fatal(sqlState: string, text: string): Buffer {
  const field = (code: string, value: string) => Buffer.from(`${code}${value}\0`, "utf8");
  return backendMessage(
    "E",
    Buffer.concat([field("S", "FATAL"), field("V", "FATAL"), field("C", sqlState), field("M", text), Buffer.from([0])]),
  );
}

/** The name/value pairs of a StartupMessage (user, database, application_name …). */
export function startupParameters(message: Buffer): Map<string, string> {
  const parts = message.subarray(8).toString("utf8").split("\0");
  const parameters = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) parameters.set(parts[i]!, parts[i + 1]!);
  return parameters;
}

/** The mechanism and client-first-message of a SASLInitialResponse ('p' with mechanism, length, data). */
export function saslInitialResponse(message: Buffer): { mechanism: string; data: string } | null {
  const body = message.subarray(5);
  const nul = body.indexOf(0);
  if (nul < 0 || body.length < nul + 5) return null;
  const length = body.readInt32BE(nul + 1);
  if (length < 0 || body.length !== nul + 5 + length) return null;
  return { mechanism: body.subarray(0, nul).toString("utf8"), data: body.subarray(nul + 5).toString("utf8") };
}
