// A staff web app's calls, over gRPC-Web as a browser makes them (HTTP/1.1, the bearer token in
// a header), with the Connect client for TypeScript on Node. tests/api/browser.rs starts a fresh
// server with gRPC-Web on and runs this script against it:
//
//   TIPGRANTS_URL=http://127.0.0.1:PORT TIPGRANTS_TOKEN=tg_... node dist/test.js
//
// Over TLS, as browsers do, HTTP/2: TIPGRANTS_URL=https://localhost:PORT TIPGRANTS_HTTP_VERSION=2
// (and NODE_EXTRA_CA_CERTS=ca.crt for a private certificate authority).
//
// Each check prints "ok: ..." on success; the first failure prints "FAILED: ..." and exits 1.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";

import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { GrantApproach, GrantInstrument, ObligationKind, ReportingCadence } from "./gen/tipgrants/v1/grant_pb.js";
import { FundsService } from "./gen/tipgrants/v1/funds_service_pb.js";
import { GrantService } from "./gen/tipgrants/v1/grant_service_pb.js";
import { OrganizationKind } from "./gen/tipgrants/v1/organization_pb.js";
import { OrganizationService } from "./gen/tipgrants/v1/organization_service_pb.js";
import { ReferenceDataService } from "./gen/tipgrants/v1/reference_data_service_pb.js";
import { ReportGrouping, ReportService } from "./gen/tipgrants/v1/report_service_pb.js";

const baseUrl = required("TIPGRANTS_URL");
const token = required("TIPGRANTS_TOKEN");
// Unique per run, so the script can run twice against one database.
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.toUpperCase();

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    fail(`set ${name}`);
  }
  return value;
}

function fail(message: string): never {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

function check(condition: boolean, message: string): void {
  if (!condition) {
    fail(message);
  }
  console.log(`ok: ${message}`);
}

/** Adds `authorization: Bearer <token>` to every call: what a web app does after its sign-in. */
function bearer(secret: string): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${secret}`);
    return next(request);
  };
}

// HTTP/1.1, as a browser speaks gRPC-Web to a server without TLS; HTTP/2 when asked (TLS).
const httpVersion = process.env.TIPGRANTS_HTTP_VERSION === "2" ? "2" : "1.1";
console.log(`gRPC-Web over HTTP/${httpVersion} to ${baseUrl}`);
const transport = createGrpcWebTransport({ baseUrl, httpVersion, interceptors: [bearer(token)] });
const anonymous = createGrpcWebTransport({ baseUrl, httpVersion });

const organizations = createClient(OrganizationService, transport);
const referenceData = createClient(ReferenceDataService, transport);
const funds = createClient(FundsService, transport);
const grants = createClient(GrantService, transport);
const reports = createClient(ReportService, transport);

async function expectError(call: () => Promise<unknown>, code: Code, what: string): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    const connectError = ConnectError.from(error);
    check(connectError.code === code, `${what}: ${Code[code]} (got ${Code[connectError.code]}: ${connectError.rawMessage})`);
    return connectError;
  }
  fail(`${what}: expected ${Code[code]}, but the call succeeded`);
}

// 1. Unary calls with the bearer token: set up a grant with money in FY 2014.
const account = `W${run}`.slice(0, 10);
await referenceData.createFundingAccount({
  fundingAccountId: account,
  fundingAccount: { displayName: "gRPC-Web test account" },
});
// Every obligation draws on its account's appropriation of the fiscal year of its funds.
await funds.createAppropriation({
  parent: `fundingAccounts/${account}`,
  appropriation: { fiscalYear: 2014, amount: 100_000_000n, availabilityYears: 2 },
});
const organization = await organizations.createOrganization({
  organization: { displayName: `Web test grantee ${run}`, kind: OrganizationKind.NGO, countryCode: "HT" },
});
check(organization.name.startsWith("organizations/"), `CreateOrganization answers ${organization.name}`);
const grant = await grants.createGrant({
  grant: {
    awardNumber: `WEB${run}`.slice(0, 20),
    title: "Called from a web page",
    grantee: organization.name,
    instrument: GrantInstrument.GRANT,
    approach: GrantApproach.SHORT_TERM_TECHNICAL_ASSISTANCE,
    startDate: "2013-10-01",
    endDate: "2014-09-30",
    reportingCadence: ReportingCadence.QUARTERLY,
    programOfficer: "web.app@state.example",
  },
});
await grants.createObligation({
  parent: grant.name,
  obligation: {
    kind: ObligationKind.INITIAL_AWARD,
    fundingAccount: `fundingAccounts/${account}`,
    fiscalYear: 2014,
    amount: 12_345_600n,
    obligationDate: "2013-12-02",
  },
});
const read = await grants.getGrant({ name: grant.name });
check(read.name === grant.name && read.awardNumber === grant.awardNumber, "GetGrant reads the grant back");

// 2. Without the token the same call is refused: gRPC-Web meets the same auth layer.
await expectError(
  () => createClient(GrantService, anonymous).getGrant({ name: grant.name }),
  Code.Unauthenticated,
  "GetGrant without a token",
);

// 3. A bad request carries google.rpc.BadRequest field violations and an ErrorInfo reason.
const invalid = await expectError(
  () =>
    organizations.createOrganization({
      organization: { displayName: "", kind: OrganizationKind.NGO, countryCode: "HT" },
    }),
  Code.InvalidArgument,
  "CreateOrganization without a display name",
);
const violations = invalid.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations);
check(
  violations.some((violation) => violation.field === "organization.display_name"),
  `BadRequest names organization.display_name (${violations.map((v) => `${v.field}: ${v.description}`).join("; ")})`,
);
const reasons = invalid.findDetails(ErrorInfoSchema).map((info) => info.reason);
check(reasons.includes("INVALID_FIELD"), `ErrorInfo reason INVALID_FIELD (${reasons.join(", ")})`);

// 4. A server stream: the fiscal-year report of FY 2014, grouped by funding account.
const parts: string[] = [];
let accountRow: bigint | undefined;
let grandTotal: bigint | undefined;
for await (const message of reports.streamFiscalYearReport({
  fromFiscalYear: 2014,
  toFiscalYear: 2014,
  accountCode: account,
  groupBy: ReportGrouping.ACCOUNT,
})) {
  const part = message.part;
  parts.push(part.case ?? "none");
  if (part.case === "row" && part.value.group === account) {
    accountRow = part.value.obligatedCents;
  }
  if (part.case === "grandTotal") {
    grandTotal = part.value.obligatedCents;
  }
}
check(parts[0] === "header" && parts.at(-1) === "grandTotal", `the report streams a header first and a grand total last (${parts.join(", ")})`);
check(accountRow === 12_345_600n, `the ${account} row of FY 2014 holds the obligation (${accountRow} cents)`);
check(grandTotal === 12_345_600n, `the grand total holds it too (${grandTotal} cents)`);

console.log("gRPC-Web client: all checks passed");
