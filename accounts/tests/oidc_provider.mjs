// A real OpenID Connect provider for the single sign-on tests: the npm package oidc-provider
// (installed by .ci/run under var/oidc-provider), on 127.0.0.1, with its development log-in
// pages (any password; the login name picks the account below).
//
// node oidc_provider.mjs PORT REDIRECT_URI   (OIDC_PROVIDER_MODULE: path of oidc-provider's lib/index.js)
// Prints "ready ISSUER" once it listens.
import { pathToFileURL } from "node:url";

const [port, redirectUri] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href);

// Each account's groups, the claim the hub reads its role from (OIDC_ROLE_CLAIM=groups).
const GROUPS = {
  alice: ["staff", "ops"], // -> operator through OIDC_ROLE_MAP
  boss: ["admins"], // -> admin
  walter: ["viewers"], // -> viewer
  mallory: ["contractors"], // maps to no role: refused
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "statusdash",
      client_secret: "statusdash-test-secret",
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["preferred_username", "name", "groups"],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          preferred_username: id,
          name: id,
          groups: GROUPS[id] ?? [],
        };
      },
    };
  },
  cookies: { keys: ["statusdash-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});
// The development pages warn on every start; the tests know.
provider.on("server_error", (ctx, error) => console.error("server_error", error));
const server = provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
