// A real Fedify server (createFederation) for fedisora's interop tests, on loopback.
//
// One actor, /users/fedi (Person, an RSA key for HTTP signatures and an Ed25519 key for
// FEP-8b32 proofs, as Fedify's docs set them up).  It accepts every Follow, records every
// activity its inbox lets through (with the raw JSON that arrived), serves the Notes it
// posts, and answers a small control API under /_test/ that the Python tests drive:
//
//   GET  /_test/ready                      the actor's URI (the test waits for it)
//   GET  /_test/received                   what the inbox accepted (see record())
//   GET  /_test/refused                    inbox requests Fedify answered with 4xx/5xx
//   POST /_test/follow   {target}          Follow target (an actor URI), sent at once
//   POST /_test/note     {to, content, video?}  a signed Note (proof) in a Create, sent to
//                                          `to`; video {path, description, width, height}
//                                          attaches that file as a Document (served here)
//   POST /_test/rfc9421  {to, content}     a Create(Note) POSTed by hand, RFC 9421-signed
//   POST /_test/verify   {document}        verifyObject(Note or Activity, document)
//   POST /_test/parse    {url, vocabulary}  fetch url; expand and compact it with jsonld.js, and
//                                          (vocabulary) parse it with Fedify's ActivityStreams classes
//
// No network beyond loopback: JSON-LD contexts come from fedisora's bundled copies
// (CONTEXTS, a JSON file {url: document} the test writes) or Fedify's preloaded ones; an
// unknown context URL is an error, never a fetch.  Usage:
//   PORT=... CONTEXTS=/path/contexts.json node server.mjs

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

import { Temporal } from "@js-temporal/polyfill";

import { configure, getConsoleSink } from "@logtape/logtape";
import {
  createFederation,
  generateCryptoKeyPair,
  getAuthenticatedDocumentLoader,
  getDocumentLoader,
  MemoryKvStore,
  signObject,
  signRequest,
  verifyObject,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Create,
  Document,
  Endpoints,
  Follow,
  Note,
  Object as APObject,
  Person,
  PUBLIC_COLLECTION,
  Update,
} from "@fedify/vocab";
import jsonld from "jsonld";

const PORT = Number(process.env.PORT);
const HOST = "127.0.0.1";
const ORIGIN = `http://${HOST}:${PORT}`;
const ME = "fedi";

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { console: getConsoleSink() },
  loggers: [
    { category: "fedify", lowestLevel: process.env.FEDIFY_LOG ?? "warning", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});

// ---- JSON-LD loading: bundled contexts first, loopback documents over HTTP -------------

const bundled = new Map();
for (const [url, document] of Object.entries(JSON.parse(readFileSync(process.env.CONTEXTS, "utf-8")))) {
  bundled.set(contextKey(url), document);
}

function contextKey(url) {
  const u = new URL(url);
  let path = u.pathname.replace(/\/+$/, "").replace(/\.jsonld?$/, "");
  return `${u.hostname.toLowerCase()}${path}`;
}

function offline(loader) {
  return async (url, options) => {
    const document = bundled.get(contextKey(url));
    if (document !== undefined) {
      return { contextUrl: null, documentUrl: url, document: structuredClone(document) };
    }
    const host = new URL(url).hostname;
    if (host !== HOST && host !== "localhost") {
      throw new Error(`refusing to fetch ${url}: not bundled and not on loopback`);
    }
    return await loader(url, options);
  };
}

// Fedify refuses private addresses unless told; with our own factories we say so here.
const documentLoader = offline(getDocumentLoader({ allowPrivateAddress: true }));
const federation = createFederation({
  kv: new MemoryKvStore(),
  documentLoaderFactory: () => documentLoader,
  contextLoaderFactory: () => documentLoader,
  authenticatedDocumentLoaderFactory: (identity) =>
    offline(getAuthenticatedDocumentLoader(identity, { allowPrivateAddress: true })),
});
const loaders = { documentLoader, contextLoader: documentLoader };

// ---- the actor ---------------------------------------------------------------------------

// RSA for HTTP signatures (2048 bits: Fedify's default 4096 takes seconds to make), Ed25519
// for FEP-8b32 proofs.
const keyPairs = [
  await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  ),
  await generateCryptoKeyPair("Ed25519"),
];

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== ME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify peer",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === ME ? keyPairs : []))
  .mapHandle((_ctx, username) => (username === ME ? ME : null));

federation.setFollowersDispatcher("/users/{identifier}/followers", () => ({ items: [] }));

const notes = new Map(); // id -> signed Note, served at its id
federation.setObjectDispatcher(Note, "/notes/{id}", (_ctx, values) => notes.get(values.id) ?? null);

// ---- the inbox ---------------------------------------------------------------------------

const rawBodies = new Map(); // activity id -> the JSON that arrived
const received = [];
const refused = [];

async function verifyRaw(cls, json) {
  try {
    return { verified: (await verifyObject(cls, json, loaders)) !== null };
  } catch (error) {
    return { verified: false, error: String(error) };
  }
}

function urlOf(value) {
  if (value == null) return null;
  if (value instanceof URL) return value.href;
  if (value.href instanceof URL) return value.href.href; // a Link
  return String(value);
}

async function describe(object) {
  const out = { class: object.constructor.name, id: object.id?.href ?? null };
  if ("content" in object) out.content = object.content?.toString() ?? null;
  if (typeof object.getAttachments === "function") {
    out.attachments = [];
    for await (const a of object.getAttachments(loaders)) {
      out.attachments.push({ class: a.constructor.name, mediaType: a.mediaType ?? null, url: urlOf(a.url) });
    }
  }
  if (typeof object.getTags === "function") {
    out.tags = [];
    for await (const t of object.getTags(loaders)) out.tags.push({ class: t.constructor.name, name: t.name?.toString() ?? null });
  }
  if (object instanceof Person || "preferredUsername" in object) {
    out.preferredUsername = object.preferredUsername?.toString() ?? null;
    out.publicKeyIds = object.publicKeyIds?.map((u) => u.href) ?? [];
    out.assertionMethodIds = object.assertionMethodIds?.map((u) => u.href) ?? [];
  }
  if ("totalItems" in object) out.totalItems = object.totalItems ?? null;
  if (typeof object.getItems === "function") {
    out.items = [];
    for await (const item of object.getItems(loaders)) out.items.push(item.constructor.name);
  }
  return out;
}

async function record(ctx, activity) {
  const raw = rawBodies.get(activity.id?.href) ?? null;
  const entry = { type: activity.constructor.name, id: activity.id?.href ?? null, actor: activity.actorId?.href ?? null, raw };
  if (raw) {
    entry.activityProof = await verifyRaw(activity.constructor, raw);
    try {
      entry.rawExpanded = await jsonld.expand(raw, { documentLoader });
    } catch (error) {
      entry.rawExpandError = `${error.name}: ${error.message}`;
    }
  }
  if (activity.objectId) entry.objectId = activity.objectId.href;
  if ((activity instanceof Create || activity instanceof Update) && activity.objectId) {
    try {
      const object = await activity.getObject(loaders);
      entry.object = object ? await describe(object) : null;
    } catch (error) {
      entry.objectError = String(error);
    }
    // The embedded copy as it arrived, with the activity's context, and its own proof.
    if (raw && typeof raw.object === "object" && raw.object !== null && raw.object.proof) {
      const embedded = { "@context": raw["@context"], ...raw.object };
      entry.objectProof = await verifyRaw(Note, embedded);
    }
  }
  received.push(entry);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    const follower = await follow.getActor(loaders);
    if (follower == null || follower.inboxId == null) return;
    await ctx.sendActivity(
      { identifier: ME },
      follower,
      new Accept({ id: new URL(`${ORIGIN}/accepts/${randomUUID()}`), actor: ctx.getActorUri(ME), object: follow }),
      { immediate: true },
    );
  })
  .on(Activity, async (ctx, activity) => {
    await record(ctx, activity);
  })
  .onError((_ctx, error) => {
    refused.push({ stage: "listener", error: String(error) });
  });

// ---- the control API ------------------------------------------------------------------------

function json(status, value) {
  return new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
}

function context() {
  return federation.createContext(new URL(ORIGIN), undefined);
}

async function lookupActor(ctx, uri) {
  const actor = await ctx.lookupObject(uri, loaders);
  if (actor == null || actor.inboxId == null) throw new Error(`cannot find an actor with an inbox at ${uri}`);
  return actor;
}

const files = new Map(); // /media/<name> -> {bytes, type}

async function makeNote(ctx, to, content, video) {
  const id = randomUUID();
  const attachments = [];
  if (video) {
    // A video post as Fedify-based servers make one: a Note with a Document.
    const name = `${id}.mp4`;
    files.set(`/media/${name}`, { bytes: readFileSync(video.path), type: "video/mp4" });
    attachments.push(new Document({
      mediaType: "video/mp4",
      url: new URL(`${ORIGIN}/media/${name}`),
      name: video.description,
      width: video.width,
      height: video.height,
    }));
  }
  const note = new Note({
    id: new URL(`${ORIGIN}/notes/${id}`),
    attribution: ctx.getActorUri(ME),
    content,
    published: Temporal.Now.instant(),
    tos: [PUBLIC_COLLECTION],
    ccs: [ctx.getFollowersUri(ME), new URL(to)],
    attachments,
  });
  const [, ed25519] = await ctx.getActorKeyPairs(ME);
  const signed = await signObject(note, ed25519.privateKey, ed25519.multikey.id, loaders);
  notes.set(id, signed);
  return signed;
}

function createFor(ctx, note) {
  return new Create({
    id: new URL(`${note.id.href}/activity`),
    actor: ctx.getActorUri(ME),
    object: note,
    tos: note.toIds,
    ccs: note.ccIds,
    published: note.published,
  });
}

async function control(request, path) {
  const ctx = context();
  const body = request.method === "POST" ? await request.json() : {};
  switch (path) {
    case "/_test/ready":
      return json(200, { actor: ctx.getActorUri(ME).href });
    case "/_test/received":
      return json(200, received);
    case "/_test/refused":
      return json(200, refused);
    case "/_test/follow": {
      const target = await lookupActor(ctx, body.target);
      const follow = new Follow({
        id: new URL(`${ORIGIN}/follows/${randomUUID()}`),
        actor: ctx.getActorUri(ME),
        object: target.id,
      });
      await ctx.sendActivity({ identifier: ME }, target, follow, { immediate: true });
      return json(200, { id: follow.id.href });
    }
    case "/_test/note": {
      const target = await lookupActor(ctx, body.to);
      const note = await makeNote(ctx, body.to, body.content, body.video);
      const create = createFor(ctx, note);
      await ctx.sendActivity({ identifier: ME }, target, create, { immediate: true });
      return json(200, { note: note.id.href, create: create.id.href });
    }
    case "/_test/rfc9421": {
      // By hand: only the RFC 9421 HTTP signature authenticates this request (no proof, no
      // LD signature), so an inbox that stores it accepted RFC 9421.
      const target = await lookupActor(ctx, body.to);
      const id = randomUUID();
      const note = new Note({
        id: new URL(`${ORIGIN}/notes/${id}`),
        attribution: ctx.getActorUri(ME),
        content: body.content,
        published: Temporal.Now.instant(),
        tos: [PUBLIC_COLLECTION],
        ccs: [new URL(body.to)],
      });
      notes.set(id, note);
      const create = createFor(ctx, note);
      const payload = JSON.stringify(await create.toJsonLd({ format: "compact", contextLoader: documentLoader }));
      const [rsa] = await ctx.getActorKeyPairs(ME);
      const unsigned = new Request(target.inboxId, {
        method: "POST",
        headers: { "Content-Type": "application/activity+json", Accept: "application/activity+json" },
        body: payload,
      });
      const signed = await signRequest(unsigned, rsa.privateKey, rsa.keyId, { spec: "rfc9421" });
      const headers = Object.fromEntries(signed.headers.entries());
      const response = await fetch(signed);
      return json(200, { status: response.status, body: await response.text(), headers, note: note.id.href });
    }
    case "/_test/verify":
      // Fedify's verifyObject on a document the test hands over (e.g. a tampered copy).
      return json(200, await verifyRaw(body.document.type === "Note" ? Note : Activity, body.document));
    case "/_test/parse": {
      // A plain GET (a Tombstone comes with 410, which Fedify's document loader refuses).
      const fetched = await fetch(body.url, { headers: { Accept: "application/activity+json" } });
      const document = await fetched.json();
      const out = { url: body.url, status: fetched.status, type: document.type ?? null };
      try {
        const expanded = await jsonld.expand(document, { documentLoader });
        out.expanded = expanded;
        await jsonld.compact(expanded, document["@context"], { documentLoader });
        out.compacted = true;
      } catch (error) {
        out.expanded ??= false;
        out.compacted = false;
        out.jsonldError = `${error.name}: ${error.message}`;
      }
      if (!body.vocabulary) return json(200, out);
      try {
        const parsed = await APObject.fromJsonLd(document, loaders);
        out.parsed = await describe(parsed);
        if (parsed instanceof Activity) {
          const object = await parsed.getObject(loaders);
          out.parsed.object = object ? await describe(object) : null;
        }
        if (document.proof) out.proof = await verifyRaw(parsed.constructor, document);
      } catch (error) {
        out.parseError = `${error.name}: ${error.message}`;
      }
      return json(200, out);
    }
    default:
      return json(404, { error: `no such test endpoint ${path}` });
  }
}

// ---- the HTTP server -----------------------------------------------------------------------

async function handle(request) {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/_test/")) {
    try {
      return await control(request, url.pathname);
    } catch (error) {
      return json(500, { error: String(error), stack: error.stack });
    }
  }
  const file = files.get(url.pathname);
  if (file && (request.method === "GET" || request.method === "HEAD")) {
    return new Response(request.method === "GET" ? file.bytes : null, {
      headers: { "Content-Type": file.type, "Content-Length": String(file.bytes.length) },
    });
  }
  let forward = request;
  if (request.method === "POST") {
    const text = await request.text();
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.id === "string") rawBodies.set(parsed.id, parsed);
    } catch {
      // not JSON: Fedify answers it
    }
    forward = new Request(request.url, { method: "POST", headers: request.headers, body: text });
  }
  const response = await federation.fetch(forward, { contextData: undefined });
  if (request.method === "POST" && response.status >= 400) {
    const text = await response.clone().text();
    refused.push({ stage: "inbox", path: url.pathname, status: response.status, body: text });
  }
  return response;
}

createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const request = new Request(`${ORIGIN}${req.url}`, {
    method: req.method,
    headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });
  let response;
  try {
    response = await handle(request);
  } catch (error) {
    response = json(500, { error: String(error) });
  }
  const payload = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  res.end(payload);
}).listen(PORT, HOST, () => {
  process.stdout.write(`fedify peer listening on ${ORIGIN}\n`);
});
