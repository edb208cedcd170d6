import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks
 * it: the password never crosses the wire, and a client that does not know it
 * learns nothing it could replay. No channel binding (the embedded server has
 * no TLS), so only the "n" and "y" GS2 flags are accepted.
 */
export const SCRAM_MECHANISM = "SCRAM-SHA-256";

/** PostgreSQL's default scram_iterations. */
const ITERATIONS = 4096;

/** What the server keeps instead of the password (PostgreSQL's rolpassword "SCRAM-SHA-256$…"). */
export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

/**
 * Derives the verifier once per server start (PBKDF2 is slow on purpose). The
 * password is used as is: SASLprep leaves the ASCII passwords Loopy generates unchanged.
 */
export function scramVerifier(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = ITERATIONS,
): ScramVerifier {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  return { salt, iterations, storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") };
}

/** printable = %x21-2B / %x2D-7E: what a nonce may contain. */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * One authentication exchange. `first` answers the client-first-message with
 * the server-first-message, `final` checks the client's proof and answers with
 * the server-final-message; either returns null when the client has failed.
 */
export class ScramExchange {
  private clientFirstBare = "";
  private gs2Header = "";
  private nonce = "";
  private serverFirst = "";

  constructor(private readonly verifier: ScramVerifier) {}

  /** `serverNonce` is random; RFC 7677's example fixes it to check the arithmetic. */
  first(clientFirst: string, serverNonce = randomBytes(18).toString("base64")): string | null {
    // gs2-header = cbind-flag "," [authzid] "," ; PostgreSQL, too, refuses an authzid.
    const match = /^([ny]),,(n=[^,]*,r=([^,]+)(?:,.*)?)$/.exec(clientFirst);
    if (!match) return null;
    const [, flag, bare, clientNonce] = match as unknown as [string, string, string, string];
    if (!PRINTABLE.test(clientNonce) || /(^|,)m=/.test(bare)) return null;
    this.gs2Header = `${flag},,`;
    this.clientFirstBare = bare;
    this.nonce = clientNonce + serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString("base64")},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  final(clientFinal: string): string | null {
    // One proof per exchange: a second try needs a new nonce.
    const serverFirst = this.serverFirst;
    this.serverFirst = "";
    if (!serverFirst) return null;
    const proofAt = clientFinal.lastIndexOf(",p=");
    if (proofAt < 0) return null;
    const withoutProof = clientFinal.slice(0, proofAt);
    const attributes = withoutProof.split(",");
    if (attributes[0] !== `c=${Buffer.from(this.gs2Header).toString("base64")}` || attributes[1] !== `r=${this.nonce}`)
      return null;
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), "base64");
    if (proof.length !== 32) return null;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) return null;
    return `v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`;
  }
}
