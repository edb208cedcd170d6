import { describe, expect, it } from "vitest";
import { ScramExchange, scramVerifier } from "./scram.ts";

// RFC 7677 §3: user "user", password "pencil".
const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
const clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const clientFinal =
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

describe("SCRAM-SHA-256 server", () => {
  it("reproduces RFC 7677's example exchange", () => {
    const exchange = new ScramExchange(scramVerifier("pencil", salt, 4096));
    expect(exchange.first(clientFirst, serverNonce)).toBe(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    expect(exchange.final(clientFinal)).toBe("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it("refuses a proof made with another password, a changed nonce, channel binding and a second try", () => {
    const wrong = new ScramExchange(scramVerifier("pencil2", salt, 4096));
    wrong.first(clientFirst, serverNonce);
    expect(wrong.final(clientFinal)).toBeNull();

    const nonce = new ScramExchange(scramVerifier("pencil", salt, 4096));
    nonce.first(clientFirst, "another-server-nonce");
    expect(nonce.final(clientFinal)).toBeNull();

    expect(
      new ScramExchange(scramVerifier("pencil", salt, 4096)).first("p=tls-server-end-point,,n=user,r=abc"),
    ).toBeNull();
    expect(new ScramExchange(scramVerifier("pencil", salt, 4096)).first("n,a=admin,n=user,r=abc")).toBeNull();

    const twice = new ScramExchange(scramVerifier("pencil", salt, 4096));
    twice.first(clientFirst, serverNonce);
    expect(twice.final(clientFinal)).not.toBeNull();
    expect(twice.final(clientFinal)).toBeNull();
  });

  it("refuses a final message before the first one", () => {
    expect(new ScramExchange(scramVerifier("pencil", salt, 4096)).final(clientFinal)).toBeNull();
  });
});
