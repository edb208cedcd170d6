import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** A secret value as stored: AES-256-GCM ciphertext, its 12-byte IV and 16-byte tag, each base64. */
export interface SealedSecret {
  ciphertext: string;
  iv: string;
  tag: string;
}

/**
 * Encrypts `plaintext` under the 32-byte master key with a fresh random IV.
 * `aad` binds the ciphertext to something (the secret's name): a row copied
 * under another name does not decrypt.
 */
export function sealSecret(key: Buffer, plaintext: string, aad: string): SealedSecret {
  if (key.length !== 32) throw new Error("the master key must be 32 bytes");
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return {
    ciphertext: ciphertext.toString("base64"),
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
  };
}

/** Decrypts a sealed value; throws when the key is wrong or anything was changed (GCM authenticates). */
export function openSecret(key: Buffer, sealed: SealedSecret, aad: string): string {
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "base64")), decipher.final()]).toString("utf8");
}
