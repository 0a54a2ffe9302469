import { Temporal } from "@js-temporal/polyfill"; globalThis.Temporal = Temporal;
import { createFederation, MemoryKvStore, InProcessMessageQueue } from "@fedify/fedify";
import { generateCryptoKeyPair, exportJwk } from "@fedify/fedify/sig";
import { Create, Note, Person, PUBLIC_COLLECTION } from "@fedify/vocab";
import http from "node:http";

const received = [];
async function pem(key) { const b = Buffer.from(await crypto.subtle.exportKey("pkcs8", key)).toString("base64"); return "-----BEGIN PRIVATE KEY-----\n" + b.match(/.{1,64}/g).join("\n") + "\n-----END PRIVATE KEY-----\n"; }
const server = http.createServer((req, res) => {
  let body = ""; req.on("data", c => body += c); req.on("end", () => { received.push({ url: req.url, headers: req.headers, body }); res.writeHead(202); res.end(); });
});
await new Promise(r => server.listen(0, "127.0.0.1", r));
const port = server.address().port;
const rsa = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const ed = await generateCryptoKeyPair("Ed25519");
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => new Person({
  id: ctx.getActorUri(identifier), preferredUsername: identifier, inbox: ctx.getInboxUri(identifier),
  publicKey: (await ctx.getActorKeyPairs(identifier))[0].cryptographicKey,
  assertionMethods: (await ctx.getActorKeyPairs(identifier)).map(k => k.multikey),
})).setKeyPairsDispatcher(async () => [rsa, ed]);
federation.setInboxListeners("/users/{identifier}/inbox", "/inbox");
const ctx = federation.createContext(new URL("https://fedify.example/"), undefined);
const actor = ctx.getActorUri("fred");
const recipient = { id: new URL(`http://127.0.0.1:${port}/users/bob`), inboxId: new URL(`http://127.0.0.1:${port}/users/bob/inbox`) };
const note = new Note({ id: new URL(actor.href + "/posts/1"), attribution: actor, content: "<p>Hello from Fedify</p>", to: PUBLIC_COLLECTION, published: Temporal.Instant.from("2026-12-01T00:00:00Z") });
await ctx.sendActivity({ identifier: "fred" }, recipient, new Create({ id: new URL(actor.href + "/posts/1#create"), actor, object: note, to: PUBLIC_COLLECTION }), { immediate: true });
// a Create embedding a Note that carries its own proof
const { signObject } = await import("@fedify/fedify/sig");
const signedNote = await signObject(note.clone({ id: new URL(actor.href + "/posts/2") }), ed.privateKey, new URL(actor.href + "#multikey-2"));
await ctx.sendActivity({ identifier: "fred" }, recipient, new Create({ id: new URL(actor.href + "/posts/2#create"), actor, object: signedNote, to: PUBLIC_COLLECTION }), { immediate: true });
const actorDoc = await (await federation.fetch(new Request(actor.href, { headers: { Accept: "application/activity+json" } }), { contextData: undefined })).json();
const noteDoc = await signedNote.toJsonLd({ format: "compact" });
console.log(JSON.stringify({ fedify: "2.3.6", keys: { rsaPrivatePem: await pem(rsa.privateKey), edPrivatePem: await pem(ed.privateKey) }, actor: actorDoc, note2: noteDoc, bodies: received.map(r => JSON.parse(r.body)) }, null, 2));
server.close();
