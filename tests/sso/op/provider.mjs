// A real OpenID Provider for the single sign-on tests: panva's oidc-provider (OpenID Certified),
// on loopback, driven by tests/sso/provider.py. Not for production: it signs in whoever the test
// names, with the claims the test chooses.
//
// Environment:
//   OP_ISSUER_PATHS  JSON list of issuer paths served on one port, e.g. ["/tenant-a/v2.0",
//                    "/tenant-b/v2.0"]: several "tenants" sharing one signing key set, as Entra ID's
//                    tenants share Microsoft's keys. Each is an issuer http://127.0.0.1:PORT{path}.
//   OP_KEYS          JSON list of private JWKs to sign with (the first signs).
// Prints one JSON line {"port": N} on stdout once it listens.
//
// Test-only endpoints (JSON, outside every issuer path):
//   POST /__op/clients  {client_id, client_secret, redirect_uris, token_endpoint_auth_method}
//   PUT  /__op/keys     {keys: [private JWK, ...]}: rotates the signing keys of every issuer
//   GET  /__op/stats    {jwks_fetches: {issuer path: count}}
// Interactions (under each issuer path), so an HTTP client completes a sign-in without a browser:
//   GET  {issuer}/interaction/:uid        the interaction's details as JSON
//   POST {issuer}/interaction/:uid/login  {account_id, claims, amr}: signs that account in and
//                                         grants the requested scopes, then redirects onwards

import http from 'node:http';

import Provider from 'oidc-provider';

const issuerPaths = JSON.parse(process.env.OP_ISSUER_PATHS || '[""]').map((p) => p.replace(/\/$/, ''));
let signingKeys = JSON.parse(process.env.OP_KEYS || '[]');

// Clients are shared by every issuer (one app registration usable in several tenants); the other
// artifacts (sessions, codes, grants) belong to one issuer.
const clients = new Map();
const accounts = new Map();
const jwksFetches = Object.fromEntries(issuerPaths.map((path) => [path, 0]));

class Store {
  constructor() {
    this.items = new Map();
  }
}

function adapterFor(store) {
  return class Adapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload) {
      if (this.model === 'Client') {
        clients.set(id, payload);
        return;
      }
      store.items.set(this.key(id), payload);
      if (this.model === 'Session') store.items.set(`sessionUid:${payload.uid}`, id);
    }

    async find(id) {
      if (this.model === 'Client') return clients.get(id);
      return store.items.get(this.key(id));
    }

    async findByUid(uid) {
      return this.find(store.items.get(`sessionUid:${uid}`));
    }

    async findByUserCode() {
      return undefined;
    }

    async consume(id) {
      const payload = store.items.get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      store.items.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const [key, payload] of store.items) {
        if (payload && payload.grantId === grantId) store.items.delete(key);
      }
    }
  };
}

function buildProvider(issuer, path, store) {
  return new Provider(issuer, {
    adapter: adapterFor(store),
    jwks: { keys: signingKeys },
    // Claims by scope. tid, oid and amr (from the login) ride on "openid", so an ID token carries
    // them whenever the account has them.
    claims: {
      openid: ['sub', 'tid', 'oid', 'amr'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Put the scope's claims in the ID token itself, as Entra ID and Okta do.
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      const stored = accounts.get(id);
      if (!stored) return undefined;
      return { accountId: id, claims: async () => ({ ...stored, sub: id }) };
    },
    // Every client must use PKCE (S256), as the relying party always does.
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `${path}/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['test-provider-cookie-key'] },
    ttl: {
      AccessToken: 300,
      AuthorizationCode: 60,
      IdToken: 300,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
  });
}

let port = 0;
const stores = Object.fromEntries(issuerPaths.map((path) => [path, new Store()]));
let providers = {};
let handlers = {};

function rebuildProviders() {
  providers = Object.fromEntries(issuerPaths.map((path) => [
    path, buildProvider(`http://127.0.0.1:${port}${path}`, path, stores[path]),
  ]));
  handlers = Object.fromEntries(issuerPaths.map((path) => [path, providers[path].callback()]));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

async function control(req, res, pathname) {
  if (req.method === 'POST' && pathname === '/__op/clients') {
    const body = await readJson(req);
    clients.set(body.client_id, {
      client_id: body.client_id,
      client_secret: body.client_secret,
      redirect_uris: body.redirect_uris,
      token_endpoint_auth_method: body.token_endpoint_auth_method || 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    });
    return sendJson(res, 201, { client_id: body.client_id });
  }
  if (req.method === 'PUT' && pathname === '/__op/keys') {
    signingKeys = (await readJson(req)).keys;
    rebuildProviders();
    return sendJson(res, 200, { kids: signingKeys.map((key) => key.kid) });
  }
  if (req.method === 'GET' && pathname === '/__op/stats') {
    return sendJson(res, 200, { jwks_fetches: jwksFetches });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

async function interaction(provider, req, res, rest) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET' && rest === `/interaction/${details.uid}`) {
    return sendJson(res, 200, { uid: details.uid, prompt: details.prompt.name, params: details.params });
  }
  if (req.method === 'POST' && rest === `/interaction/${details.uid}/login`) {
    const body = await readJson(req);
    accounts.set(body.account_id, body.claims || {});
    const grant = new provider.Grant({ accountId: body.account_id, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    const login = { accountId: body.account_id, ...(body.amr ? { amr: body.amr } : {}) };
    return provider.interactionFinished(req, res, { login, consent: { grantId } }, {
      mergeWithLastSubmission: false,
    });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

const server = http.createServer(async (req, res) => {
  try {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    if (pathname.startsWith('/__op/')) return await control(req, res, pathname);

    // The longest issuer path that prefixes the request serves it, mounted at that path.
    const path = issuerPaths
      .filter((p) => pathname === p || pathname.startsWith(`${p}/`))
      .sort((a, b) => b.length - a.length)[0];
    if (path === undefined) return sendJson(res, 404, { error: 'no issuer here' });
    const provider = providers[path];
    const rest = pathname.slice(path.length) || '/';
    if (rest === '/jwks') jwksFetches[path] += 1;
    if (rest.startsWith('/interaction/')) return await interaction(provider, req, res, rest);

    req.originalUrl = req.url;
    req.url = req.url.slice(path.length) || '/';
    return handlers[path](req, res);
  } catch (error) {
    return sendJson(res, 500, { error: 'provider_script_error', message: String(error) });
  }
});

server.listen(0, '127.0.0.1', () => {
  ({ port } = server.address());
  rebuildProviders();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
