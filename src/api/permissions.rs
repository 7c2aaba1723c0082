//! The permission table: which roles may call which RPC. This is the only
//! place that says so. A method missing from the table is refused to every
//! role (deny by default), so a new RPC cannot be reachable by accident.
//! Which *rows* a role sees is the store's `Scope` (grantees: their own).

use crate::domain::access::Role::{
    self, Admin, Auditor, CaseWorker, Grantee, GrantsOfficer, ProgramOfficer,
};
use crate::domain::access::{Actor, Scope};

/// Every role.
const EVERYONE: &[Role] = &[
    Admin,
    ProgramOfficer,
    GrantsOfficer,
    CaseWorker,
    Auditor,
    Grantee,
];
/// Administrators only.
const ADMIN: &[Role] = &[Admin];
/// Administrators and program officers.
const PROGRAM_STAFF: &[Role] = &[Admin, ProgramOfficer];
/// Everyone who follows the program side: staff who run it, auditors, and grantees (their own records).
const PROGRAM_READERS: &[Role] = &[Admin, ProgramOfficer, GrantsOfficer, Auditor, Grantee];
/// Who writes outcome reports: program staff, and grantees (their own projects).
const REPORTERS: &[Role] = &[Admin, ProgramOfficer, Grantee];
/// Staff who follow the money (the fund's case workers draw on it too) and auditors: not grantees.
const MONEY_READERS: &[Role] = &[Admin, ProgramOfficer, GrantsOfficer, CaseWorker, Auditor];
/// Administrators and auditors.
const OVERSIGHT: &[Role] = &[Admin, Auditor];
/// Who runs the emergency assistance fund: administrators and case workers.
const CASE_STAFF: &[Role] = &[Admin, CaseWorker];
/// Staff who read the whole program portfolio (no grantee).
const PROGRAM_STAFF_READERS: &[Role] = &[Admin, ProgramOfficer, GrantsOfficer, Auditor];
/// Who follows the fund's money: its staff and auditors.
const FUND_READERS: &[Role] = &[Admin, CaseWorker, Auditor];
/// Who reads cases: the fund's staff, auditors, and grantees (the cases they referred).
const CASE_READERS: &[Role] = &[Admin, CaseWorker, Auditor, Grantee];
/// Who asks for an amendment: program staff, grants officers, and grantees (their own grants).
const AMENDMENT_REQUESTERS: &[Role] = &[Admin, ProgramOfficer, GrantsOfficer, Grantee];
/// Who signs an amendment: grants officers (and administrators), never the requester's person.
const SIGNERS: &[Role] = &[Admin, GrantsOfficer];
/// Who refers and withdraws cases: the fund's staff and grantees (their own referrals).
const REFERRERS: &[Role] = &[Admin, CaseWorker, Grantee];

/// `(full gRPC method, roles allowed)`.
pub const TABLE: &[(&str, &[Role])] = &[
    // Organisations: everyone reads (grantees only their own); staff who set up grants create them.
    (
        "/tipgrants.v1.OrganizationService/GetOrganization",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.OrganizationService/ListOrganizations",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.OrganizationService/CreateOrganization",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.OrganizationService/UpdateOrganization",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.OrganizationService/DeleteOrganization",
        ADMIN,
    ),
    // Reference data: everyone reads; administrators manage.
    (
        "/tipgrants.v1.ReferenceDataService/GetFundingAccount",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.ReferenceDataService/ListFundingAccounts",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.ReferenceDataService/CreateFundingAccount",
        ADMIN,
    ),
    (
        "/tipgrants.v1.ReferenceDataService/UpdateFundingAccount",
        ADMIN,
    ),
    (
        "/tipgrants.v1.ReferenceDataService/DeleteFundingAccount",
        ADMIN,
    ),
    ("/tipgrants.v1.ReferenceDataService/GetCountry", EVERYONE),
    ("/tipgrants.v1.ReferenceDataService/ListCountries", EVERYONE),
    ("/tipgrants.v1.ReferenceDataService/GetRegion", EVERYONE),
    ("/tipgrants.v1.ReferenceDataService/ListRegions", EVERYONE),
    // Appropriations: administrators record them (the budget office's figures); staff and auditors read.
    ("/tipgrants.v1.FundsService/CreateAppropriation", ADMIN),
    ("/tipgrants.v1.FundsService/GetAppropriation", MONEY_READERS),
    (
        "/tipgrants.v1.FundsService/ListAppropriations",
        MONEY_READERS,
    ),
    ("/tipgrants.v1.FundsService/UpdateAppropriation", ADMIN),
    // Grants and their money: program staff change them; grantees read their own; auditors read all.
    ("/tipgrants.v1.GrantService/GetGrant", PROGRAM_READERS),
    ("/tipgrants.v1.GrantService/ListGrants", PROGRAM_READERS),
    ("/tipgrants.v1.GrantService/CreateGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/UpdateGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/ActivateGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/SuspendGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/CloseGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/TerminateGrant", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/CreateObligation", PROGRAM_STAFF),
    ("/tipgrants.v1.GrantService/GetObligation", PROGRAM_READERS),
    (
        "/tipgrants.v1.GrantService/ListObligations",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.GrantService/ListGrantRevisions",
        PROGRAM_READERS,
    ),
    // Amendments: grantees and staff request them; a grants officer signs.
    (
        "/tipgrants.v1.AmendmentService/CreateAmendment",
        AMENDMENT_REQUESTERS,
    ),
    (
        "/tipgrants.v1.AmendmentService/GetAmendment",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.AmendmentService/ListAmendments",
        PROGRAM_READERS,
    ),
    ("/tipgrants.v1.AmendmentService/ApproveAmendment", SIGNERS),
    ("/tipgrants.v1.AmendmentService/RefuseAmendment", SIGNERS),
    // Closeouts: grantees follow their own; staff and auditors all; a grants officer completes them.
    ("/tipgrants.v1.CloseoutService/GetCloseout", PROGRAM_READERS),
    (
        "/tipgrants.v1.CloseoutService/ListCloseouts",
        PROGRAM_READERS,
    ),
    ("/tipgrants.v1.CloseoutService/CompleteCloseout", SIGNERS),
    // Financial reports: grantees write and submit their own grants'; program staff review.
    (
        "/tipgrants.v1.FinancialReportService/ListFinancialReportingPeriods",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/CreateFinancialReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/GetFinancialReport",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/ListFinancialReports",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/UpdateFinancialReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/SubmitFinancialReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.FinancialReportService/AcceptFinancialReport",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.FinancialReportService/ReturnFinancialReport",
        PROGRAM_STAFF,
    ),
    // Payment requests: grantees request on their own grants; program staff decide and pay.
    (
        "/tipgrants.v1.PaymentService/CreatePaymentRequest",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.PaymentService/GetPaymentRequest",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.PaymentService/ListPaymentRequests",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.PaymentService/ApprovePaymentRequest",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.PaymentService/RefusePaymentRequest",
        PROGRAM_STAFF,
    ),
    ("/tipgrants.v1.PaymentService/RecordPayment", PROGRAM_STAFF),
    // Projects and indicators: as for grants.
    ("/tipgrants.v1.ProjectService/GetProject", PROGRAM_READERS),
    ("/tipgrants.v1.ProjectService/ListProjects", PROGRAM_READERS),
    ("/tipgrants.v1.ProjectService/CreateProject", PROGRAM_STAFF),
    ("/tipgrants.v1.ProjectService/UpdateProject", PROGRAM_STAFF),
    ("/tipgrants.v1.ProjectService/StartProject", PROGRAM_STAFF),
    (
        "/tipgrants.v1.ProjectService/CompleteProject",
        PROGRAM_STAFF,
    ),
    ("/tipgrants.v1.ProjectService/CancelProject", PROGRAM_STAFF),
    (
        "/tipgrants.v1.ProjectService/CreateIndicator",
        PROGRAM_STAFF,
    ),
    ("/tipgrants.v1.ProjectService/GetIndicator", PROGRAM_READERS),
    (
        "/tipgrants.v1.ProjectService/ListIndicators",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.ProjectService/UpdateIndicator",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.ProjectService/DeleteIndicator",
        PROGRAM_STAFF,
    ),
    // TIP Report data: everyone reads; administrators manage.
    ("/tipgrants.v1.TipReportService/GetTipRanking", EVERYONE),
    ("/tipgrants.v1.TipReportService/ListTipRankings", EVERYONE),
    ("/tipgrants.v1.TipReportService/CreateTipRanking", ADMIN),
    ("/tipgrants.v1.TipReportService/UpdateTipRanking", ADMIN),
    (
        "/tipgrants.v1.TipReportService/GetTipRecommendation",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.TipReportService/ListTipRecommendations",
        EVERYONE,
    ),
    (
        "/tipgrants.v1.TipReportService/CreateTipRecommendation",
        ADMIN,
    ),
    (
        "/tipgrants.v1.TipReportService/UpdateTipRecommendation",
        ADMIN,
    ),
    (
        "/tipgrants.v1.TipReportService/DeleteTipRecommendation",
        ADMIN,
    ),
    // Outcome reports: grantees write their own, program officers review (never their own
    // submission), administrators reopen; everyone on the program side reads.
    (
        "/tipgrants.v1.OutcomeReportService/ListReportingPeriods",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/CreateOutcomeReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/GetOutcomeReport",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/ListOutcomeReports",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/UpdateOutcomeReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/SubmitOutcomeReport",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/AcceptOutcomeReport",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/ReturnOutcomeReport",
        PROGRAM_STAFF,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/ReopenOutcomeReport",
        ADMIN,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/CreateOutcome",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/GetOutcome",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/ListOutcomes",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/UpdateOutcome",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/DeleteOutcome",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/UploadOutcomes",
        REPORTERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/ListMilestones",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/GetMilestone",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.OutcomeReportService/GetIndicatorProgress",
        PROGRAM_READERS,
    ),
    // Emergency assistance: administrators fund it; case workers decide and pay; grantees refer
    // (and see their own referrals); auditors read everything except victims' personal data,
    // which only case workers and administrators read, each read audited.
    (
        "/tipgrants.v1.AssistanceService/CreateFundAllocation",
        ADMIN,
    ),
    (
        "/tipgrants.v1.AssistanceService/GetFundAllocation",
        FUND_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/ListFundAllocations",
        FUND_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/GetFundBalance",
        FUND_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/CreateAssistanceCase",
        REFERRERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/GetAssistanceCase",
        CASE_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/ListAssistanceCases",
        CASE_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/UpdateAssistanceCase",
        REFERRERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/StartCaseReview",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/ApproveAssistanceCase",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/DenyAssistanceCase",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/WithdrawAssistanceCase",
        REFERRERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/CloseAssistanceCase",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/CreateDisbursement",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/ListDisbursements",
        CASE_READERS,
    ),
    (
        "/tipgrants.v1.AssistanceService/GetCasePersonalData",
        CASE_STAFF,
    ),
    (
        "/tipgrants.v1.AssistanceService/SummarizeAssistanceCases",
        &[Admin, ProgramOfficer, CaseWorker, Auditor],
    ),
    // Tokens: administrators only.
    ("/tipgrants.v1.AccessService/CreateApiToken", ADMIN),
    ("/tipgrants.v1.AccessService/GetApiToken", ADMIN),
    ("/tipgrants.v1.AccessService/ListApiTokens", ADMIN),
    ("/tipgrants.v1.AccessService/RevokeApiToken", ADMIN),
    // The audit log: administrators and auditors.
    ("/tipgrants.v1.AuditService/ListAuditEvents", OVERSIGHT),
    ("/tipgrants.v1.AuditService/VerifyAuditChain", OVERSIGHT),
    // Fiscal-year reports: program readers (grantees: their own grants only).
    (
        "/tipgrants.v1.ReportService/StreamFiscalYearReport",
        PROGRAM_READERS,
    ),
    (
        "/tipgrants.v1.ReportService/GetPortfolioSummary",
        PROGRAM_READERS,
    ),
    // Raw outcomes for analysts: like reports (grantees get their own grants' only).
    (
        "/tipgrants.v1.ReportService/ExportOutcomes",
        PROGRAM_READERS,
    ),
    // The IATI activity file (published as the office's): staff who read every grant.
    (
        "/tipgrants.v1.ReportService/ExportIatiActivities",
        PROGRAM_STAFF_READERS,
    ),
    // HTCDS case records (k-anonymous, audited): the roles that read every case's profile.
    (
        "/tipgrants.v1.ReportService/ExportHtcdsCaseRecords",
        FUND_READERS,
    ),
];

/// The method whose callers may read every assistance case (with an unscoped token).
const LIST_CASES: &str = "/tipgrants.v1.AssistanceService/ListAssistanceCases";

/// Whether `actor` can list every assistance case: its role may call `ListAssistanceCases` and
/// its scope is everything. Figures about victims are exact only for such a caller; anyone else
/// gets them under the k rule (`domain::statistics`), since it could not count them itself.
pub fn lists_every_case(actor: &Actor) -> bool {
    actor.scope() == Scope::All
        && matches!(access(LIST_CASES), Access::Roles(roles) if roles.contains(&actor.role))
}

/// What a call to `method` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token: the health service.
    Public,
    /// No token while `server.reflection` is on; refused to every caller when it is off.
    Reflection,
    /// A token of one of these roles.
    Roles(&'static [Role]),
}

/// The access rule of a full gRPC method path (`/package.Service/Method`).
pub fn access(method: &str) -> Access {
    if method.starts_with("/grpc.health.v1.Health/") {
        return Access::Public;
    }
    if method.starts_with("/grpc.reflection.v1.ServerReflection/")
        || method.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
    {
        return Access::Reflection;
    }
    TABLE
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, roles)| Access::Roles(roles))
        .unwrap_or(Access::Roles(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, organization: Option<&str>) -> Actor {
        Actor {
            token_id: "t".into(),
            role,
            organization_id: organization.map(String::from),
            owner: "o".into(),
        }
    }

    #[test]
    fn only_roles_that_list_every_case_get_exact_figures_about_victims() {
        assert!(lists_every_case(&actor(Admin, None)));
        assert!(lists_every_case(&actor(CaseWorker, None)));
        assert!(lists_every_case(&actor(Auditor, None)));
        assert!(!lists_every_case(&actor(ProgramOfficer, None)));
        assert!(!lists_every_case(&actor(Grantee, Some("ngo"))));
    }
}
